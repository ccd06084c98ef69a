package io.metastream.streamapp;

import io.metastream.embedded.EmbeddedKafkaBroker;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "broker", mixinStandardHelpOptions = true,
        description = "Run a single-node KRaft broker in this process until SIGTERM, for local experiments "
                + "with `run` (prints its bootstrap address).")
final class BrokerCommand implements Callable<Integer> {
    @Option(names = "--data-dir", description = "Keep the broker's logs here across restarts (default: a "
            + "temporary directory deleted on exit).")
    Path dataDir;

    @Override
    public Integer call() throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            broker.close();
            stopped.countDown();
        }, "broker-shutdown"));
        System.out.println("bootstrap.servers=" + broker.bootstrapServers());
        stopped.await();
        return 0;
    }
}

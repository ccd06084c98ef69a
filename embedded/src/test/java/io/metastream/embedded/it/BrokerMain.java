package io.metastream.embedded.it;

import io.metastream.embedded.EmbeddedKafkaBroker;
import java.nio.file.Path;

/**
 * An {@link EmbeddedKafkaBroker} as the main class of a child JVM, listening on one address of its
 * host ({@code args[1]}) with its logs in {@code args[0]}: a broker on a host of its own
 * ({@link NetworkHosts}). Prints {@code broker started; bootstrap.servers=HOST:PORT} once it answers; runs until killed.
 */
final class BrokerMain {
    static final String READY = "broker started; bootstrap.servers=";

    private BrokerMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(Path.of(args[0]), args[1]);
        Runtime.getRuntime().addShutdownHook(new Thread(broker::close));
        System.out.println(READY + broker.bootstrapServers());
        System.out.flush();
        Thread.currentThread().join();
    }

    /** The bootstrap address a broker started by this class printed in {@code output}. */
    static String bootstrapServers(String output) {
        int at = output.indexOf(READY);
        if (at < 0) {
            throw new IllegalStateException("no '" + READY + "' line in:\n" + output);
        }
        return output.substring(at + READY.length()).lines().findFirst().orElseThrow().strip();
    }
}

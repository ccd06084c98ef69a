package io.metastream.streamapp;

import io.metastream.learn.MetastreamVersion;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar metastream.jar <command>}; the only place that calls {@link System#exit}. */
@Command(name = "metastream", mixinStandardHelpOptions = true, versionProvider = MetastreamCommand.Version.class,
        description = "Online meta-learning in Kafka Streams: adapt a meta-learned base model to each task's "
                + "support set and publish the adapted model's predictions.",
        subcommands = {DemoCommand.class, RunCommand.class, MetaTrainCommand.class, TrainCommand.class, EvalCommand.class, ContinualEvalCommand.class,
                ModelsCommand.class, BrokerCommand.class, SynthesizeCommand.class, ReplayCommand.class})
public final class MetastreamCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** {@code --version}: the version the build wrote, not a copy of it. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"metastream " + MetastreamVersion.get()};
        }
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line as {@link #main} runs it, exit codes and error lines included, for in-process use. */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new MetastreamCommand());
        cli.setParameterExceptionHandler(new FamilyDefault(cli.getParameterExceptionHandler()));
        // Expected failures (a missing model, a bad config value, an alias someone else moved) are
        // one readable line, not a stack trace; METASTREAM_DEBUG=1 shows the trace.
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("error: " + e.getMessage());
            if (System.getenv("METASTREAM_DEBUG") != null) {
                e.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        return cli;
    }
}

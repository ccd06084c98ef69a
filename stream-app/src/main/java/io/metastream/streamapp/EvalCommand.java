package io.metastream.streamapp;

import picocli.CommandLine.Command;

/**
 * {@code eval <family>}: one subcommand per task family, each with only its own options; without a
 * family picocli answers with this usage, which lists them.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Score a stored base on fresh tasks of its family, printed and written as JSON.",
        subcommands = {SinusoidEval.class, MovieLensEval.class, OmniglotEval.class})
final class EvalCommand {
}

package io.metastream.streamapp;

import picocli.CommandLine.Command;

/**
 * {@code train <family>}: one subcommand per task family, each with only its own options. Without
 * a family picocli answers with this usage, which lists them ({@link FamilyDefault} keeps the
 * spellings from before the subcommands working).
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Meta-train a base model on one task family and publish it, with its provenance, to a "
                + "model store. Writes a JSON training log and a learning-curve PNG under "
                + "<store>/_runs/<name>-v<version>/.",
        subcommands = {SinusoidTrain.class, MovieLensTrain.class, OmniglotTrain.class, RecordsTrain.class})
final class TrainCommand {
}

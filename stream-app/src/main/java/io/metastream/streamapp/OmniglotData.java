package io.metastream.streamapp;

import io.metastream.data.omniglot.Omniglot;
import java.nio.file.Path;
import java.util.List;

/** Where the omniglot commands read their images and which alphabets they hold out. */
final class OmniglotData {
    private OmniglotData() {
    }

    /** The user's folder, or the archives bundled in the jar when {@code dir} is null. */
    static Omniglot load(Path dir) {
        return dir == null ? Omniglot.bundled() : Omniglot.fromDirectory(dir);
    }

    /**
     * The given alphabets; else the bundled split's test alphabets, or the {@code images_evaluation}
     * alphabets of a user folder.
     *
     * @throws IllegalArgumentException if an alphabet is unknown or none can be chosen
     */
    static List<String> testAlphabets(Omniglot data, Path dir, List<String> given) {
        List<String> test = given != null ? given
                : dir == null ? Omniglot.BUNDLED_TEST_ALPHABETS : data.evaluationSplitAlphabets();
        if (test.isEmpty()) {
            throw new IllegalArgumentException(dir + " has no images_evaluation split; name the held-out alphabets "
                    + "with --test-alphabets");
        }
        data.characters(test); // throws naming an unknown alphabet
        if (test.containsAll(data.alphabets())) {
            throw new IllegalArgumentException("every alphabet is held out; none is left to train on");
        }
        return List.copyOf(test);
    }
}

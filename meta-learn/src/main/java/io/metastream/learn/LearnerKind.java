package io.metastream.learn;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * The built-in learners, each with the id that model manifests, training logs and the command line
 * name it by ({@code "learner": "reptile"}). This enum is the only place those ids are spelled; they
 * are part of the artifact format, so an id never changes once released. An application may serve
 * a learner of its own under another id ({@link DispatchingLearner#with}), which is why a
 * {@link BaseModel} keeps its learner as a string and {@link #find} may come back empty.
 */
public enum LearnerKind {
    /** Reptile (Nichol et al. 2018), adapted online by SGD steps. */
    REPTILE("reptile", Adapts.BY_STEPS),
    /** First-order MAML (Finn et al. 2017), adapted online by SGD steps. */
    FOMAML("fomaml", Adapts.BY_STEPS),
    /** Second-order MAML (Finn et al. 2017), adapted online by SGD steps. */
    MAML("maml", Adapts.BY_STEPS),
    /** Meta-SGD (Li et al. 2017): SGD steps with learned per-parameter step sizes. */
    METASGD("metasgd", Adapts.BY_STEPS_OF_LEARNED_SIZES),
    /** ANIL (Raghu et al. 2020): SGD steps on the last layer, with learned per-parameter step sizes. */
    ANIL("anil", Adapts.BY_STEPS_OF_LEARNED_SIZES),
    /** The pooled fine-tuning baseline: trained without an inner loop, adapted online by SGD steps. */
    PRETRAIN("pretrain", Adapts.BY_STEPS),
    /** ANIL with a closed-form ridge head ({@link RidgeHeadLearner}): no inner steps. */
    ANIL_RIDGE("anil-ridge", Adapts.WITHOUT_STEPS),
    /** A task encoder ({@link TaskEncoderLearner}): adaptation is one forward pass. */
    TASK_ENCODER("task-encoder", Adapts.WITHOUT_STEPS),
    /**
     * A prototypical network (Snell et al. 2017) on images ({@link PrototypeLearner}): a task's
     * state is its class prototypes, computed without steps; the one kind that is not an MLP.
     */
    PROTONET("protonet", Adapts.BY_PROTOTYPES);

    /** How a kind of base is adapted to a support set. */
    private enum Adapts {
        BY_STEPS, BY_STEPS_OF_LEARNED_SIZES, WITHOUT_STEPS, BY_PROTOTYPES
    }

    private final String id;
    private final Adapts adapts;

    LearnerKind(String id, Adapts adapts) {
        this.id = id;
        this.adapts = adapts;
    }

    /** The id in manifests and on the command line, e.g. {@code anil-ridge}. */
    public String id() {
        return id;
    }

    /** Whether the stream adapts such a base by SGD steps from it ({@link GradientLearner}). */
    public boolean takesInnerSteps() {
        return adapts == Adapts.BY_STEPS || adapts == Adapts.BY_STEPS_OF_LEARNED_SIZES;
    }

    /** Whether such a base carries per-parameter inner step sizes, and cannot be served without them. */
    public boolean hasStepSizes() {
        return adapts == Adapts.BY_STEPS_OF_LEARNED_SIZES;
    }

    /** Whether the stream serves such a base without inner steps (its manifest says {@code inner_steps: 0}). */
    public boolean stepFree() {
        return adapts == Adapts.WITHOUT_STEPS;
    }

    /**
     * Whether such a base is an MLP trained on feature vectors (every kind but the protonet, a conv
     * embedding of images trained by {@code train omniglot}).
     */
    public boolean isMlp() {
        return adapts != Adapts.BY_PROTOTYPES;
    }

    /**
     * The built-in kind of {@code id}, or empty for an id this build does not know (an
     * application's own learner).
     */
    public static Optional<LearnerKind> find(String id) {
        for (LearnerKind k : values()) {
            if (k.id.equals(id)) {
                return Optional.of(k);
            }
        }
        return Optional.empty();
    }

    /**
     * Parses an {@link #id()}.
     *
     * @throws IllegalArgumentException naming the known ids
     */
    public static LearnerKind fromId(String id) {
        return find(id).orElseThrow(() -> new IllegalArgumentException("unknown learner '" + id + "' (known: "
                + ids(k -> true) + ")"));
    }

    /** The ids of the kinds that pass {@code filter}, in declaration order. */
    public static List<String> ids(Predicate<LearnerKind> filter) {
        return Arrays.stream(values()).filter(filter).map(LearnerKind::id).toList();
    }
}

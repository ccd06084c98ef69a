package io.metastream.learn;

import ai.djl.Device;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * The learner a base asks for in its manifest, looked up by the manifest's learner id in a
 * registry: {@link #builtIn} registers a learner for every {@link LearnerKind} the stream serves
 * ({@link GradientLearner}, {@link RidgeHeadLearner}, {@link TaskEncoderLearner},
 * {@link PrototypeLearner});
 * {@link #with} adds an application's own. The choice is made per call from the base passed in,
 * so one instance serves a stream across a hot swap from one kind of base to another; adapted
 * states stay tied to the base version that made them. Owns its learners and closes each once.
 */
public final class DispatchingLearner implements Learner {
    private final Map<String, Learner> byId;
    private final String device;

    /** The built-in learners, computing on {@code device} ({@link DjlRuntime#defaultDevice()} picks a GPU). */
    public DispatchingLearner(Device device) {
        this(builtIn(device), device.toString());
    }

    private DispatchingLearner(Map<String, Learner> byId, String device) {
        this.byId = Collections.unmodifiableMap(new LinkedHashMap<>(byId));
        this.device = device;
    }

    /** Learners by manifest learner id, as {@link #DispatchingLearner(Device)} registers them. */
    public static Map<String, Learner> builtIn(Device device) {
        GradientLearner gradient = new GradientLearner(device);
        RidgeHeadLearner ridge = new RidgeHeadLearner(device);
        TaskEncoderLearner encoder = new TaskEncoderLearner(device);
        PrototypeLearner prototypes = new PrototypeLearner(device);
        Map<String, Learner> m = new LinkedHashMap<>();
        for (LearnerKind kind : LearnerKind.values()) {
            // Exhaustive, so that a new kind is a compile error here until it is given a learner.
            Learner learner = switch (kind) {
                case REPTILE, FOMAML, MAML, METASGD, ANIL, PRETRAIN -> gradient;
                case ANIL_RIDGE -> ridge;
                case TASK_ENCODER -> encoder;
                case PROTONET -> prototypes;
            };
            m.put(kind.id(), learner);
        }
        return m;
    }

    /**
     * This registry plus {@code learner} for bases whose manifest names {@code id} (replacing a
     * built-in one of that id). The returned instance owns all the learners; close only it.
     */
    public DispatchingLearner with(String id, Learner learner) {
        Map<String, Learner> m = new LinkedHashMap<>(byId);
        m.put(Objects.requireNonNull(id, "id"), Objects.requireNonNull(learner, "learner"));
        return new DispatchingLearner(m, device);
    }

    /** The learner ids this instance serves. */
    public Set<String> learnerIds() {
        return new TreeSet<>(byId.keySet());
    }

    @Override
    public boolean serves(BaseModel base) {
        Learner l = byId.get(base.learner());
        return l != null && l.serves(base);
    }

    /**
     * The learner that serves {@code base}.
     *
     * @throws IllegalArgumentException if none is registered for its learner id
     */
    public Learner forBase(BaseModel base) {
        Learner l = byId.get(base.learner());
        if (l == null) {
            throw new IllegalArgumentException(base.version() + ": no learner registered for '" + base.learner()
                    + "' (registered: " + learnerIds() + ")");
        }
        return l;
    }

    @Override
    public AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
        return forBase(base).adapt(base, supports, settings);
    }

    @Override
    public float[][] predict(BaseModel base, List<float[]> states, List<float[][]> queries) {
        return forBase(base).predict(base, states, queries);
    }

    @Override
    public float[][][] classify(BaseModel base, List<float[]> states, List<float[][]> queries, int[] classCounts) {
        return forBase(base).classify(base, states, queries, classCounts);
    }

    @Override
    public String device() {
        return device;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        Set<Learner> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        distinct.addAll(byId.values());
        for (Learner l : distinct) {
            try {
                l.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}

package io.metastream.streams.internals;

import io.metastream.learn.BaseModel;
import io.metastream.learn.CheckedPredictions;
import io.metastream.learn.SampleSet;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.TopologySettings;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the hot path on synthetic tasks before an instance takes traffic: sample and query decoding,
 * support-set appends, batched adaptation on the engine (its thread sets up its own libtorch
 * state), state encoding and decoding, batched prediction and output encoding. Without it the JIT
 * compiles those paths, and libtorch allocates its first buffers, on the first seconds of live
 * traffic: the demo's first queries waited up to a second while later ones took 100 ms.
 *
 * <p>Nothing is written anywhere: no store, no topic, no metric.
 */
public final class WarmUp {
    private static final Logger LOG = LoggerFactory.getLogger(WarmUp.class);
    /** Tasks per round: a typical engine call. */
    private static final int TASKS = 64;
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);
    private static final AvroCodec<Prediction> PREDICTIONS = AvroCodec.of(Prediction.class);
    private static final AvroCodec<AdaptationEvent> EVENTS = AvroCodec.of(AdaptationEvent.class);

    private WarmUp() {
    }

    /** What a warm-up did. */
    public record Report(int rounds, long millis) {
    }

    /**
     * Runs {@code rounds} rounds of {@value #TASKS} synthetic tasks through the hot path, or fewer if
     * {@code maxMillis} pass first. Each round's adaptation goes through {@code engine} as a query
     * job would.
     */
    public static Report run(ActiveModel model, AdaptationEngine engine, TopologySettings settings, int rounds,
            long maxMillis) {
        long start = System.nanoTime();
        long deadline = start + TimeUnit.MILLISECONDS.toNanos(maxMillis);
        BaseModel base = model.base();
        int dim = base.inputDim();
        Random random = new Random(1);
        int done = 0;
        while (done < rounds && System.nanoTime() < deadline) {
            List<SampleSet> supports = new ArrayList<>(TASKS);
            int[] classCounts = new int[TASKS];
            for (int t = 0; t < TASKS; t++) {
                PackedSupportSet set = PackedSupportSet.empty();
                for (int i = 0; i < settings.supportMaxSize(); i++) {
                    // A classifier's samples name one of two classes, as a task's first ones would.
                    LabelledSample sample = SAMPLES.decode(SAMPLES.encode(LabelledSample.newBuilder()
                            .setEventId("warm-up-" + t + "-" + i).setTaskId("warm-up-" + t)
                            .setFeatures(features(random, dim)).setTarget(random.nextFloat())
                            .setLabel(base.classifies() ? "class-" + (i % 2) : null)
                            .setEventTime(Instant.ofEpochMilli(i)).build()));
                    set = set.append(sample.getEventId(), sample.getLabel(), Floats.toArray(sample.getFeatures()),
                            sample.getTarget(), sample.getEventTime().toEpochMilli(), settings.supportMaxSize(), i);
                }
                PackedSupportSet.LearnerSupport read = PackedSupportSet.parse(set.bytes())
                        .supportFor(base, Long.MAX_VALUE);
                supports.add(read.support());
                classCounts[t] = read.labels().size();
            }
            AdaptationEngine.Job job = new AdaptationEngine.Job(base, supports, finished -> { });
            engine.submitForQueries(job);
            while (!job.isDone() && System.nanoTime() < deadline) {
                LockSupport.parkNanos(100_000);
            }
            if (!job.isDone() || job.isCancelled()) {
                break;
            }
            float[] parameters = base.parameters();
            List<float[]> states = new ArrayList<>(TASKS);
            List<float[][]> queries = new ArrayList<>(TASKS);
            for (int t = 0; t < TASKS; t++) {
                float[] state = job.result(t) == null ? null : job.result(t).state();
                if (state != null) {
                    AdaptedStateCodec.Encoded encoded = AdaptedStateCodec.encode(state, parameters,
                            settings.stateEncoding());
                    state = AdaptedStateCodec.decode(encoded.bytes(), encoded.encoding(), parameters);
                }
                states.add(state);
                PredictionRequest request = QUERIES.decode(QUERIES.encode(PredictionRequest.newBuilder()
                        .setQueryId("warm-up-q" + t).setTaskId("warm-up-" + t).setFeatures(features(random, dim))
                        .setEventTime(Instant.EPOCH).build()));
                queries.add(new float[][] {Floats.toArray(request.getFeatures())});
            }
            float[] values = new float[TASKS];
            if (base.classifies()) {
                float[][][] p = model.learner().classify(base, states, queries, classCounts);
                for (int t = 0; t < TASKS; t++) {
                    values[t] = p[t] == null ? 0f : p[t][0][0];
                }
            } else {
                CheckedPredictions predicted = model.learner().predictChecked(base, states, queries);
                for (int t = 0; t < TASKS; t++) {
                    values[t] = predicted.isFinite(t) ? predicted.values()[t][0] : 0f;
                }
            }
            for (int t = 0; t < TASKS; t++) {
                PREDICTIONS.encode(Prediction.newBuilder().setQueryId("warm-up-q" + t).setTaskId("warm-up-" + t)
                        .setValue(values[t])
                        .setModelVersion(base.version()).setSupportSize(settings.supportMaxSize()).setAdapted(true)
                        .setLatencyMicros(0L).setAdaptedThrough(Instant.EPOCH).build());
            }
            EVENTS.encode(AdaptationEvent.newBuilder().setTaskId("warm-up").setBaseVersion(base.version())
                    .setSupportSize(settings.supportMaxSize()).setLossBefore(1f).setLossAfter(0.5f)
                    .setSteps(job.steps()).setMicros(job.microsPerTask()).setBatchSize(job.callSize())
                    .setFellBack(false).setDevice(job.device()).setNewestSampleTime(Instant.EPOCH).build());
            done++;
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        LOG.info("warmed up the hot path on {} rounds of {} synthetic tasks in {} ms", done, TASKS, millis);
        return new Report(done, millis);
    }

    private static List<Float> features(Random random, int dim) {
        List<Float> out = new ArrayList<>(dim);
        for (int i = 0; i < dim; i++) {
            out.add(random.nextFloat() * 2 - 1);
        }
        return out;
    }
}

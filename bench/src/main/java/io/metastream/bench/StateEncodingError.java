package io.metastream.bench;

import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskAdaptation;
import io.metastream.learn.TaskFamily;
import io.metastream.streams.internals.AdaptedStateCodec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * What storing adapted fast weights as {@link AdaptedStateCodec#INT8_DELTA} instead of float32 costs
 * in prediction error: adapts {@code tasks} sinusoid tasks (10 shots, the production setting) and
 * predicts 10 held-out points of each from the float32 state and from the decoded int8-delta state.
 *
 * <pre>java -cp bench/target/benchmarks.jar io.metastream.bench.StateEncodingError [tasks]</pre>
 */
public final class StateEncodingError {
    private StateEncodingError() {
    }

    public static void main(String[] args) {
        int tasks = args.length > 0 ? Integer.parseInt(args[0]) : 2048;
        BaseModel base = Workloads.base();
        float[] baseParameters = base.parameters();
        Random random = new Random(7);
        SinusoidTasks family = new SinusoidTasks();
        List<TaskFamily.Episode> episodes = new ArrayList<>();
        for (int i = 0; i < tasks; i++) {
            episodes.add(family.sample(random, Workloads.SHOTS, 10));
        }
        double mseFloat = 0;
        double mseInt8 = 0;
        double mseBase = 0;
        double maxDiff = 0;
        double sumDiff = 0;
        long points = 0;
        int bytesFloat = 0;
        int bytesInt8 = 0;
        try (GradientLearner learner = new GradientLearner(DjlRuntime.defaultDevice())) {
            for (List<TaskFamily.Episode> chunk : Workloads.batches(episodes, 256)) {
                AdaptedBatch adapted = learner.adapt(base, chunk.stream().map(TaskFamily.Episode::support).toList());
                List<float[]> full = new ArrayList<>();
                List<float[]> compact = new ArrayList<>();
                List<float[][]> inputs = new ArrayList<>();
                for (int t = 0; t < chunk.size(); t++) {
                    TaskAdaptation task = adapted.tasks().get(t);
                    AdaptedStateCodec.Encoded encoded = AdaptedStateCodec.encode(task.state(), baseParameters,
                            AdaptedStateCodec.INT8_DELTA);
                    bytesFloat = 4 * task.state().length;
                    bytesInt8 = encoded.bytes().remaining();
                    full.add(task.state());
                    compact.add(AdaptedStateCodec.decode(encoded.bytes(), encoded.encoding(), baseParameters));
                    inputs.add(chunk.get(t).query().features());
                }
                float[][] a = learner.predict(base, full, inputs);
                float[][] b = learner.predict(base, compact, inputs);
                float[][] c = learner.predict(base, Arrays.asList(new float[chunk.size()][]), inputs);
                for (int t = 0; t < chunk.size(); t++) {
                    SampleSet query = chunk.get(t).query();
                    for (int i = 0; i < query.size(); i++) {
                        double truth = query.targets()[i];
                        mseFloat += (a[t][i] - truth) * (a[t][i] - truth);
                        mseInt8 += (b[t][i] - truth) * (b[t][i] - truth);
                        mseBase += (c[t][i] - truth) * (c[t][i] - truth);
                        double diff = Math.abs(a[t][i] - b[t][i]);
                        maxDiff = Math.max(maxDiff, diff);
                        sumDiff += diff;
                        points++;
                    }
                }
            }
        }
        System.out.printf(Locale.ROOT, "%d tasks, %d held-out points%n", tasks, points);
        System.out.printf(Locale.ROOT, "state bytes: float32 %d, int8-delta %d (%.2fx smaller)%n", bytesFloat,
                bytesInt8, (double) bytesFloat / bytesInt8);
        System.out.printf(Locale.ROOT, "query MSE: base %.5f, adapted float32 %.5f, adapted int8-delta %.5f "
                + "(int8 / float32 = %.5f)%n", mseBase / points, mseFloat / points, mseInt8 / points, mseInt8 / mseFloat);
        System.out.printf(Locale.ROOT, "|prediction int8-delta - float32|: mean %.2e, max %.2e%n", sumDiff / points,
                maxDiff);
    }
}

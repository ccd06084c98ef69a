package io.metastream.bench;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.SampleSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Adaptations per second of {@link GradientLearner#adapt}: every invocation adapts the same
 * {@link Workloads#POOL} tasks, in batched calls of {@code batchSize} tasks each, so the score is
 * tasks per second at every batch size. {@code batchSize = 1} is the one-task-at-a-time DJL path.
 * {@code innerStep} is the base's step rule: plain SGD, or bounded steps (one forward-mode pass
 * more per step, {@link io.metastream.learn.AdaptationSettings.InnerStep#BOUNDED}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "-Dai.djl.offline=true")
public class AdaptationBenchmark {
    @Param({"1", "4", "16", "64", "256", "1024"})
    public int batchSize;

    @Param({"sgd", "bounded-sgd"})
    public String innerStep;

    private BaseModel base;
    private List<List<SampleSet>> batches;

    @Setup(Level.Trial)
    public void setUp() {
        DjlRuntime.start(1);
        BaseModel plain = Workloads.base();
        base = new BaseModel(plain.version(), plain.learner(), plain.architecture(), plain.parameters(),
                plain.adaptation().withInnerStep(AdaptationSettings.InnerStep.fromId(innerStep)));
        batches = Workloads.batches(Workloads.supports(Workloads.POOL), batchSize);
    }

    /** One learner per benchmark thread: nothing native is shared between threads. */
    @State(Scope.Thread)
    public static class OwnLearner {
        GradientLearner learner;

        @Setup(Level.Trial)
        public void open() {
            learner = new GradientLearner(DjlRuntime.defaultDevice());
        }

        @TearDown(Level.Trial)
        public void close() {
            learner.close();
        }
    }

    @Benchmark
    @OperationsPerInvocation(Workloads.POOL)
    public void batched(OwnLearner own, Blackhole bh, CpuTime cpu) {
        cpu.start();
        for (List<SampleSet> batch : batches) {
            bh.consume(own.learner.adapt(base, batch));
        }
        cpu.stop(Workloads.POOL);
    }
}

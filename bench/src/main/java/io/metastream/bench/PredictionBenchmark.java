package io.metastream.bench;

import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskAdaptation;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
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
 * Answers per second of {@link GradientLearner#predict}: {@link Workloads#POOL} adapted tasks, one
 * query each, answered in batched calls of {@code batchSize} tasks; the score is queries per second.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "-Dai.djl.offline=true")
public class PredictionBenchmark {
    @Param({"1", "64", "1024"})
    public int batchSize;

    private GradientLearner learner;
    private BaseModel base;
    private List<List<float[]>> stateBatches;
    private List<List<float[][]>> queryBatches;

    @Setup(Level.Trial)
    public void setUp() {
        DjlRuntime.start(1);
        base = Workloads.base();
        learner = new GradientLearner(DjlRuntime.defaultDevice());
        List<SampleSet> supports = Workloads.supports(Workloads.POOL);
        List<float[]> states = new ArrayList<>(supports.size());
        for (TaskAdaptation t : learner.adapt(base, supports).tasks()) {
            states.add(t.state());
        }
        Random random = new Random(7L);
        List<float[][]> queries = new ArrayList<>(supports.size());
        for (int t = 0; t < supports.size(); t++) {
            queries.add(new float[][] {{-5f + 10f * random.nextFloat()}});
        }
        stateBatches = Workloads.batches(states, batchSize);
        queryBatches = Workloads.batches(queries, batchSize);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        learner.close();
    }

    @Benchmark
    @OperationsPerInvocation(Workloads.POOL)
    public void batched(Blackhole bh, CpuTime cpu) {
        cpu.start();
        for (int b = 0; b < stateBatches.size(); b++) {
            bh.consume(learner.predict(base, stateBatches.get(b), queryBatches.get(b)));
        }
        cpu.stop(Workloads.POOL);
    }
}

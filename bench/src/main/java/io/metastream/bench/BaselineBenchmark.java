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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The two baselines for {@link AdaptationBenchmark}, on the first {@link #TASKS} tasks of the same
 * pool: DJL called once per task ({@code adapt(base, List.of(support))}), and the same adaptation
 * in plain Java loops ({@link PlainJavaMlp}), checked at set-up to agree with DJL within
 * {@link Equivalence#TOLERANCE}. Scores are tasks per second.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "-Dai.djl.offline=true")
public class BaselineBenchmark {
    /** Fewer than the pool: one DJL call per task costs about a millisecond. */
    static final int TASKS = 256;

    private GradientLearner learner;
    private BaseModel base;
    private float[] theta;
    private AdaptationSettings settings;
    private List<SampleSet> supports;
    private PlainJavaMlp plain;

    @Setup(Level.Trial)
    public void setUp() {
        DjlRuntime.start(1);
        base = Workloads.base();
        theta = base.parameters();
        settings = base.adaptation();
        supports = Workloads.supports(Workloads.POOL).subList(0, TASKS);
        learner = new GradientLearner(DjlRuntime.defaultDevice());
        plain = new PlainJavaMlp(base.architecture());
        Equivalence.check(learner, base, supports);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        learner.close();
    }

    @Benchmark
    @OperationsPerInvocation(TASKS)
    public void djlOneTaskAtATime(Blackhole bh, CpuTime cpu) {
        cpu.start();
        for (SampleSet s : supports) {
            bh.consume(learner.adapt(base, List.of(s)));
        }
        cpu.stop(TASKS);
    }

    @Benchmark
    @OperationsPerInvocation(TASKS)
    public void plainJava(Blackhole bh, CpuTime cpu) {
        cpu.start();
        for (SampleSet s : supports) {
            bh.consume(plain.adapt(theta, s, settings));
        }
        cpu.stop(TASKS);
    }
}

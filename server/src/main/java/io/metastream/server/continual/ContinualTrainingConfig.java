package io.metastream.server.continual;

import java.util.Map;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;

/**
 * The meta-trainer's settings, read from the same file as the pipeline's ({@code meta.train.*};
 * the pipeline's keys say which broker, topics, model store and model).
 */
public final class ContinualTrainingConfig extends AbstractConfig {
    public static final String BUFFER_TASKS_CONFIG = "meta.train.buffer.tasks";
    public static final String BUFFER_SAMPLES_CONFIG = "meta.train.buffer.samples.per.task";
    public static final String BUFFER_WINDOW_MS_CONFIG = "meta.train.buffer.window.ms";
    public static final String EVERY_NEW_TASKS_CONFIG = "meta.train.every.new.tasks";
    public static final String EVERY_MS_CONFIG = "meta.train.every.ms";
    public static final String HELD_OUT_TASKS_CONFIG = "meta.train.held.out.tasks";
    public static final String MIN_HELD_OUT_TASKS_CONFIG = "meta.train.min.held.out.tasks";
    public static final String ITERATIONS_CONFIG = "meta.train.iterations";
    public static final String META_BATCH_CONFIG = "meta.train.meta.batch";
    public static final String OUTER_STEP_CONFIG = "meta.train.outer.step";
    public static final String SHOTS_CONFIG = "meta.train.shots";
    public static final String EVAL_SHOTS_CONFIG = "meta.train.eval.shots";
    public static final String MARGIN_CONFIG = "meta.train.margin";
    public static final String SEED_CONFIG = "meta.train.seed";
    public static final String MAX_TASKS_PER_ROUND_CONFIG = "meta.train.max.tasks.per.round";

    private static final ConfigDef CONFIG = new ConfigDef()
            .define(BUFFER_TASKS_CONFIG, Type.INT, 2000, Range.atLeast(4), Importance.MEDIUM,
                    "Most tasks kept; the one updated least recently goes first.")
            .define(BUFFER_SAMPLES_CONFIG, Type.INT, 20, Range.atLeast(2), Importance.MEDIUM,
                    "Newest samples kept per task.")
            .define(BUFFER_WINDOW_MS_CONFIG, Type.LONG, 0L, Range.atLeast(0), Importance.MEDIUM,
                    "If positive, samples older than this (by record timestamp, behind the newest sample "
                            + "read) leave the buffer before each round, and tasks left without samples with "
                            + "them. 0: no window, counts alone bound the buffer.")
            .define(EVERY_NEW_TASKS_CONFIG, Type.INT, 200, Range.atLeast(1), Importance.MEDIUM,
                    "A round starts after this many tasks the trainer had not seen...")
            .define(EVERY_MS_CONFIG, Type.LONG, 600_000L, Range.atLeast(1), Importance.MEDIUM,
                    "...or this long after the last round, if any new task arrived.")
            .define(HELD_OUT_TASKS_CONFIG, Type.INT, 100, Range.atLeast(2), Importance.MEDIUM,
                    "The most recent tasks, kept out of training and used to judge the candidate.")
            .define(MIN_HELD_OUT_TASKS_CONFIG, Type.INT, 30, Range.atLeast(2), Importance.LOW,
                    "Fewer held-out tasks than this is no evidence: the candidate is refused.")
            .define(ITERATIONS_CONFIG, Type.INT, 500, Range.atLeast(1), Importance.MEDIUM,
                    "Meta-training iterations per round, warm-started from the current base.")
            .define(META_BATCH_CONFIG, Type.INT, 25, Range.atLeast(1), Importance.LOW, "Tasks per meta-batch.")
            .define(OUTER_STEP_CONFIG, Type.DOUBLE, 0.001, Range.atLeast(0), Importance.LOW,
                    "Outer (meta) step size of a round.")
            .define(SHOTS_CONFIG, Type.INT, 10, Range.atLeast(1), Importance.LOW,
                    "Support size of a training episode (at most a task's samples less one).")
            .define(EVAL_SHOTS_CONFIG, Type.INT, 10, Range.atLeast(1), Importance.LOW,
                    "Prequential shots scored per held-out task (0 .. n-1).")
            .define(MARGIN_CONFIG, Type.DOUBLE, 0.05, Range.between(0, 1), Importance.MEDIUM,
                    "Relative improvement the candidate must show at the upper end of its 95% CI.")
            .define(SEED_CONFIG, Type.LONG, 42L, Importance.LOW, "Seed of the episode sampling.")
            .define(MAX_TASKS_PER_ROUND_CONFIG, Type.INT, 1000, Range.atLeast(4), Importance.MEDIUM,
                    "Most tasks one round trains and judges on. With more buffered, the tasks with the most "
                            + "samples are taken (ties drawn with the round's seed), so a flood of new task ids "
                            + "with few samples each neither fills the round nor becomes its held-out users.");

    public ContinualTrainingConfig(Map<?, ?> props) {
        super(CONFIG, props, false);
    }

    public static ConfigDef configDef() {
        return new ConfigDef(CONFIG);
    }
}

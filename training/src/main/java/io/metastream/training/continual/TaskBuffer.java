package io.metastream.training.continual;

import io.metastream.learn.SampleSet;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The recent past of the stream as meta-training data: at most {@code maxTasks} tasks, each with
 * its newest {@code maxSamplesPerTask} samples in arrival order. When full, the task that was
 * updated least recently goes, so the buffer follows the population as it drifts. Counts the
 * tasks it has first seen, which is what a trainer's "every N new tasks" trigger reads.
 *
 * <p>With a time window ({@link #expireBefore}) it also forgets by age: samples whose event time
 * is before the cut-off go, and a task left with none goes with them. Counts bound memory, the
 * window bounds staleness: a quiet stream keeps old tasks under counts alone. Not thread-safe: one
 * consumer thread fills it and takes snapshots.
 */
public final class TaskBuffer {
    private final int maxTasks;
    private final int maxSamplesPerTask;
    // Access order: iteration starts at the task updated least recently.
    private final LinkedHashMap<String, Entry> tasks;
    private long tasksSeen;

    public TaskBuffer(int maxTasks, int maxSamplesPerTask) {
        if (maxTasks < 2 || maxSamplesPerTask < 2) {
            throw new IllegalArgumentException("a buffer needs at least 2 tasks of 2 samples, got " + maxTasks
                    + " and " + maxSamplesPerTask);
        }
        this.maxTasks = maxTasks;
        this.maxSamplesPerTask = maxSamplesPerTask;
        this.tasks = new LinkedHashMap<>(16, 0.75f, true);
    }

    /** {@link #add(String, float[], float, long)} without an event time: the sample never expires by age. */
    public void add(String taskId, float[] features, float target) {
        add(taskId, features, target, Long.MAX_VALUE);
    }

    /**
     * Adds one sample of {@code taskId} with its event time, evicting that task's oldest sample or
     * the stalest task if full.
     */
    public void add(String taskId, float[] features, float target, long timestampMs) {
        Entry e = tasks.get(taskId);
        if (e == null) {
            if (tasks.size() == maxTasks) {
                String stalest = tasks.keySet().iterator().next();
                tasks.remove(stalest);
            }
            e = new Entry(tasksSeen++);
            tasks.put(taskId, e);
        }
        if (e.samples.size() == maxSamplesPerTask) {
            e.samples.removeFirst();
        }
        e.samples.addLast(new Sample(features.clone(), target, timestampMs));
    }

    /**
     * Drops every sample with an event time before {@code cutoffMs}, and the tasks left empty.
     * Samples arrive roughly in time order per task, but not exactly (producers' clocks, retries),
     * so every sample is looked at, not only each task's oldest.
     *
     * @return how many samples went
     */
    public int expireBefore(long cutoffMs) {
        int dropped = 0;
        var it = tasks.values().iterator();
        while (it.hasNext()) {
            Entry e = it.next();
            int before = e.samples.size();
            e.samples.removeIf(s -> s.timestampMs < cutoffMs);
            dropped += before - e.samples.size();
            if (e.samples.isEmpty()) {
                it.remove();
            }
        }
        return dropped;
    }

    /** How many distinct tasks were ever added (evicted ones included). */
    public long tasksSeen() {
        return tasksSeen;
    }

    public int size() {
        return tasks.size();
    }

    /** The buffered tasks with at least {@code minSamples} samples, oldest first seen first. */
    public List<BufferedTask> snapshot(int minSamples) {
        return snapshot(minSamples, Integer.MAX_VALUE, 0L);
    }

    /**
     * At most {@code maxTasks} of the buffered tasks with at least {@code minSamples} samples,
     * oldest first seen first. When there are more, the tasks with the most samples are kept, ties
     * drawn at random with {@code seed}: a producer that floods the topic with new task ids, a
     * sample or two each, does not displace the tasks with real histories, and cannot make its ids
     * the most recent (held-out, judging) tasks of a round; one that sends as many samples per id as
     * real users do gets a share of the round in proportion, not all of it.
     */
    public List<BufferedTask> snapshot(int minSamples, int maxTasks, long seed) {
        if (maxTasks < 1) {
            throw new IllegalArgumentException("maxTasks must be positive, got " + maxTasks);
        }
        List<Map.Entry<String, Entry>> entries = new ArrayList<>();
        for (Map.Entry<String, Entry> e : tasks.entrySet()) {
            if (e.getValue().samples.size() >= minSamples) {
                entries.add(e);
            }
        }
        if (entries.size() > maxTasks) {
            // Shuffled first, then a stable sort: equal sample counts stay in the seeded random order.
            Collections.shuffle(entries, new Random(seed));
            entries.sort((a, b) -> Integer.compare(b.getValue().samples.size(), a.getValue().samples.size()));
            entries = new ArrayList<>(entries.subList(0, maxTasks));
        }
        entries.sort((a, b) -> Long.compare(a.getValue().firstSeen, b.getValue().firstSeen));
        List<BufferedTask> out = new ArrayList<>(entries.size());
        for (Map.Entry<String, Entry> e : entries) {
            List<Sample> samples = new ArrayList<>(e.getValue().samples);
            float[][] x = new float[samples.size()][];
            float[] y = new float[samples.size()];
            for (int i = 0; i < y.length; i++) {
                x[i] = samples.get(i).features;
                y[i] = samples.get(i).target;
            }
            out.add(new BufferedTask(e.getKey(), e.getValue().firstSeen, new SampleSet(x, y)));
        }
        return out;
    }

    /** One task's samples in arrival order; {@code firstSeen} numbers tasks as they first arrived. */
    public record BufferedTask(String taskId, long firstSeen, SampleSet samples) {
    }

    private record Sample(float[] features, float target, long timestampMs) {
    }

    private static final class Entry {
        final long firstSeen;
        final Deque<Sample> samples = new ArrayDeque<>();

        Entry(long firstSeen) {
            this.firstSeen = firstSeen;
        }
    }
}

package io.metastream.streams.internals;

import io.metastream.streams.StoreNames;
import java.util.regex.Pattern;

/**
 * The node and store names of one metastream pipeline inside a topology: {@link StoreNames} and the
 * node names with {@code <prefix>-} in front, so two pipelines fit in one application and each has
 * its own changelog topics ({@code <application.id>-<prefix>-support-sets-changelog}). The empty
 * prefix keeps the names (and so the changelogs) of earlier releases.
 */
public record PipelineNames(String prefix) {
    private static final Pattern LEGAL = Pattern.compile("[A-Za-z0-9._-]*");

    public PipelineNames {
        if (prefix == null || !LEGAL.matcher(prefix).matches()) {
            throw new IllegalArgumentException("a pipeline prefix may hold letters, digits, '.', '_' and '-' "
                    + "(it becomes part of topic names), got '" + prefix + "'");
        }
    }

    public static PipelineNames unprefixed() {
        return new PipelineNames("");
    }

    /** {@code name} in this pipeline. */
    public String of(String name) {
        return prefix.isEmpty() ? name : prefix + "-" + name;
    }

    public String supportSets() {
        return of(StoreNames.SUPPORT_SETS);
    }

    public String adaptedTasks() {
        return of(StoreNames.ADAPTED_TASKS);
    }

    public String dirtyTasks() {
        return of(StoreNames.DIRTY_TASKS);
    }

    public String taskIndex() {
        return of(StoreNames.TASK_INDEX);
    }

    public String pendingQueries() {
        return of(StoreNames.PENDING_QUERIES);
    }

    public String sampleWatermark() {
        return of(StoreNames.SAMPLE_WATERMARK);
    }
}

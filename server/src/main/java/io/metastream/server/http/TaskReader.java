package io.metastream.server.http;

import io.metastream.server.TaskStates;
import java.util.Optional;
import org.apache.kafka.streams.KeyQueryMetadata;

/**
 * What the task API reads: {@link TaskStates} in an instance, a stand-in in tests of the HTTP
 * layer alone. Each method may throw {@link org.apache.kafka.streams.errors.InvalidStateStoreException}
 * when the stores cannot be read now.
 */
interface TaskReader {
    /** Where {@code taskId} lives (see {@link TaskStates#owner}). */
    KeyQueryMetadata owner(String taskId);

    /** The features a prediction takes. */
    int inputDim();

    Optional<TaskStates.View> describe(String taskId, boolean allowStale);

    TaskStates.Answer predict(String taskId, float[] features, boolean allowStale);

    static TaskReader of(TaskStates states) {
        return new TaskReader() {
            @Override
            public KeyQueryMetadata owner(String taskId) {
                return states.owner(taskId);
            }

            @Override
            public int inputDim() {
                return states.inputDim();
            }

            @Override
            public Optional<TaskStates.View> describe(String taskId, boolean allowStale) {
                return states.describe(taskId, allowStale);
            }

            @Override
            public TaskStates.Answer predict(String taskId, float[] features, boolean allowStale) {
                return states.predict(taskId, features, allowStale);
            }
        };
    }
}

/**
 * Training data of a user's own: task-keyed labelled rows read from CSV or Avro files
 * ({@link io.metastream.data.records.TaskRecords}), drawn as time-ordered meta-training episodes
 * ({@link io.metastream.data.records.RecordTasks}) and held out task by task for evaluation
 * ({@link io.metastream.data.records.HeldOutTasks}).
 */
package io.metastream.data.records;

/**
 * Training data of a user's own: task-keyed labelled rows read from CSV or Avro files
 * ({@link io.metastream.learn.records.TaskRecords}), drawn as time-ordered meta-training episodes
 * ({@link io.metastream.learn.records.RecordTasks}) and held out task by task for evaluation
 * ({@link io.metastream.learn.records.HeldOutTasks}).
 */
package io.metastream.learn.records;

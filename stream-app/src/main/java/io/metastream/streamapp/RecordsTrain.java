package io.metastream.streamapp;

import io.metastream.data.records.TaskRecords;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Loss;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.server.continual.SamplesTopicRows;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.training.BaseModelTraining;
import io.metastream.training.RecordsTraining;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code train --dataset records}: a base for an application's own task-keyed rows. */
final class RecordsTrain {
    private RecordsTrain() {
    }

    static int run(TrainCommand c) throws IOException {
        if ((c.data == null) == (c.topic.topic == null)) {
            throw new IllegalArgumentException("records needs --data FILE|DIR (CSV with columns task_id, target, "
                    + "optional event_time, every other column a feature; or Avro container files of LabelledSample "
                    + "rows) or --topic with --bootstrap-server and --from, not both");
        }
        MetaTrainer.Algorithm algo = MetaTrainer.Algorithm.fromId(c.algorithm.toLowerCase(Locale.ROOT));
        if (algo == MetaTrainer.Algorithm.ANIL_RIDGE) {
            throw new IllegalArgumentException("records: anil-ridge is squared error only; use another algorithm");
        }
        Map<String, Object> origin = new LinkedHashMap<>();
        TaskRecords records;
        if (c.data != null) {
            records = TaskRecords.read(c.data);
        } else {
            SamplesTopicRows.Read read = c.topic.read();
            records = read.records();
            origin.put("topic", c.topic.topic);
            origin.put("topic_range", List.of(c.topic.from.toString(), c.topic.to().toString()));
            Map<String, Object> offsets = new java.util.TreeMap<>();
            read.offsets().forEach((partition, range) -> offsets.put(String.valueOf(partition),
                    List.of(range[0], range[1])));
            origin.put("topic_offsets", offsets);
            origin.put("topic_records_skipped", read.skipped());
        }
        Loss loss = c.loss != null ? Loss.fromId(c.loss) : records.binaryTargets() ? Loss.LOGISTIC : Loss.MSE;
        if (loss == Loss.LOGISTIC && !records.binaryTargets()) {
            throw new IllegalArgumentException("--loss logistic needs targets 0 or 1; " + c.data + " has others");
        }
        RecordsTraining.Data data = RecordsTraining.Data.split(records, c.heldOut, c.seed).withOrigin(origin);
        boolean firstOrder = algo == MetaTrainer.Algorithm.REPTILE || algo == MetaTrainer.Algorithm.FOMAML;
        MetaTrainingPlan plan = new MetaTrainingPlan(RecordsTraining.architecture(records.inputDim(), c.hidden),
                new AdaptationSettings(c.innerSteps != null ? c.innerSteps : firstOrder ? 5 : 1,
                        c.innerStepSize != null ? c.innerStepSize : 0.05f, 0f, loss, c.innerStep()),
                c.iterations != null ? c.iterations : 2000, c.metaBatch, c.shots != null ? c.shots : 10, 10,
                c.outerStepSize, c.seed, c.outerDecayTo);
        String name = c.name != null ? c.name : "records";
        System.out.printf(Locale.ROOT, "%s: %d tasks (%d for training, %d held out), %d rows, %d features, loss %s, "
                + "architecture %s%n", records.source(), records.taskCount(), data.train().taskCount(),
                data.heldOut().taskCount(), records.rowCount(), records.inputDim(), loss.id(),
                plan.architecture().spec());
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(c.out);
        ConsoleProgress bar = new ConsoleProgress(System.out, "meta-training " + algo.id());
        BaseModelTraining.TrainingRun run = RecordsTraining.train(store, name, algo, data, plan,
                (done, total, l) -> bar.update(done, total, String.format(Locale.ROOT, "query loss %.3f", l)));
        ModelManifest manifest = run.manifest();
        Map<String, Object> log = new LinkedHashMap<>();
        log.put("model", manifest.ref());
        log.put("algorithm", algo.id());
        log.put("architecture", plan.architecture().spec());
        log.put("train_seconds", run.trainSeconds());
        log.put("provenance", manifest.provenance());
        log.put("resident_kb", run.memory());
        log.put("query_loss", run.curve());
        return c.finish(store, name, manifest, run.trainSeconds(), run.curve(),
                manifest.ref() + " (" + algo.id() + ", " + records.taskCount() + " tasks, " + loss.id() + ")", log);
    }

    /** {@code --topic}: training rows from the samples topic instead of files. */
    static final class TopicSource {
        @picocli.CommandLine.Option(names = "--topic", description = "records only: read the rows from this samples "
                + "topic (LabelledSample Avro) instead of --data.")
        String topic;

        /** records with --topic: the cluster, and its security settings for a TLS or SASL one. */
        @picocli.CommandLine.Mixin
        KafkaClientOptions kafka = new KafkaClientOptions();

        @picocli.CommandLine.Option(names = "--from", description = "records with --topic: first record timestamp "
                + "read, an ISO-8601 instant such as 2026-11-01T00:00:00Z.")
        java.time.Instant from;

        @picocli.CommandLine.Option(names = "--to", description = "records with --topic: records before this instant "
                + "(default: now).")
        java.time.Instant toOption;

        java.time.Instant to() {
            return toOption != null ? toOption : java.time.Instant.now();
        }

        SamplesTopicRows.Read read() {
            if (!kafka.given() || from == null) {
                throw new IllegalArgumentException("--topic needs --bootstrap-server (or --command-config) and --from");
            }
            return SamplesTopicRows.read(kafka.clientProperties(), topic, from, to(), java.time.Duration.ofMinutes(2));
        }
    }

    static List<Integer> defaultHidden() {
        return List.of(40, 40);
    }
}

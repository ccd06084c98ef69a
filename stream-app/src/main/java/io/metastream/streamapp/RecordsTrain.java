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
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code train records}: a base for an application's own task-keyed rows. */
@Command(name = "records", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Meta-train a base on your own task-keyed rows, from files (--data) or from the samples "
                + "topic (--topic), score it on held-out tasks, and publish it as <name> (default: records).",
                "Defaults: 2000 iterations, K = 10, meta-batch 25, outer step size 0.002, inner step size 0.05 "
                        + "(5 steps for reptile and fomaml, else 1); loss logistic when every target is 0 or 1, "
                        + "else mse."})
final class RecordsTrain implements Callable<Integer> {
    @Option(names = "--data", paramLabel = "FILE|DIR", description = "A CSV with columns task_id, target, "
            + "optional event_time and every other column a feature; or Avro container files of LabelledSample "
            + "rows; or a folder of them.")
    Path data;

    @Mixin
    TopicSource topic = new TopicSource();

    @Option(names = "--hidden", split = ",", defaultValue = "40,40",
            description = "Hidden layer widths. Default: ${DEFAULT-VALUE}.")
    List<Integer> hidden;

    @Option(names = "--held-out", defaultValue = "0.2",
            description = "Fraction of the tasks held out of training and scored. Default: ${DEFAULT-VALUE}.")
    double heldOut;

    @Option(names = "--learner", defaultValue = "reptile", paramLabel = "ID",
            converter = LearnerOption.AlgorithmConverter.class, completionCandidates = LearnerOption.AnyLoss.class,
            description = "${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.")
    MetaTrainer.Algorithm learner;

    /**
     * {@code --algorithm}, the name {@code --learner} had; kept so that existing scripts still run.
     * (A field of its own: picocli writes {@code --learner}'s default after parsing.)
     */
    @Option(names = "--algorithm", hidden = true, converter = LearnerOption.AlgorithmConverter.class)
    MetaTrainer.Algorithm algorithm;

    @Mixin
    MetaLearningOptions loop = new MetaLearningOptions();

    @Mixin
    PublishOptions publish = new PublishOptions();

    @Override
    public Integer call() throws IOException {
        if (algorithm != null) {
            learner = algorithm;
        }
        if ((data == null) == (topic.topic == null)) {
            throw new IllegalArgumentException("records needs --data FILE|DIR or --topic with --bootstrap-server "
                    + "and --from, not both");
        }
        if (learner == MetaTrainer.Algorithm.ANIL_RIDGE) {
            throw new IllegalArgumentException("records: " + learner.id() + " is squared error only; use another "
                    + "learner");
        }
        Map<String, Object> origin = new LinkedHashMap<>();
        TaskRecords records;
        if (data != null) {
            records = TaskRecords.read(data);
        } else {
            SamplesTopicRows.Read read = topic.read(publish.announce.kafka);
            records = read.records();
            origin.put("topic", topic.topic);
            origin.put("topic_range", List.of(topic.from.toString(), topic.to().toString()));
            Map<String, Object> offsets = new TreeMap<>();
            read.offsets().forEach((partition, range) -> offsets.put(String.valueOf(partition),
                    List.of(range[0], range[1])));
            origin.put("topic_offsets", offsets);
            origin.put("topic_records_skipped", read.skipped());
        }
        boolean firstOrder = learner == MetaTrainer.Algorithm.REPTILE || learner == MetaTrainer.Algorithm.FOMAML;
        MetaTrainingPlan defaults = MetaTrainingPlan.sinusoidDefault();
        MetaTrainingPlan plan = loop.over(new MetaTrainingPlan(RecordsTraining.architecture(records.inputDim(), hidden),
                new AdaptationSettings(firstOrder ? 5 : 1, 0.05f, 0f,
                        records.binaryTargets() ? Loss.LOGISTIC : Loss.MSE),
                2000, defaults.metaBatch(), 10, 10, defaults.outerStepSize(), publish.seed,
                defaults.finalOuterStepFraction()), publish.seed);
        Loss loss = plan.adaptation().loss();
        if (loss == Loss.LOGISTIC && !records.binaryTargets()) {
            throw new IllegalArgumentException("--loss logistic needs targets 0 or 1; " + records.source()
                    + " has others");
        }
        RecordsTraining.Data split = RecordsTraining.Data.split(records, heldOut, publish.seed).withOrigin(origin);
        String name = publish.name("records");
        System.out.printf(Locale.ROOT, "%s: %d tasks (%d for training, %d held out), %d rows, %d features, loss %s, "
                + "architecture %s%n", records.source(), records.taskCount(), split.train().taskCount(),
                split.heldOut().taskCount(), records.rowCount(), records.inputDim(), loss.id(),
                plan.architecture().spec());
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = publish.open();
        ConsoleProgress bar = new ConsoleProgress(System.out, "meta-training " + learner.id());
        BaseModelTraining.TrainingRun run = RecordsTraining.train(store, name, learner, split, plan,
                (done, total, l) -> bar.update(done, total, String.format(Locale.ROOT, "query loss %.3f", l)));
        ModelManifest manifest = run.manifest();
        Map<String, Object> log = new LinkedHashMap<>();
        log.put("model", manifest.ref());
        log.put("algorithm", learner.id());
        log.put("architecture", plan.architecture().spec());
        log.put("train_seconds", run.trainSeconds());
        log.put("provenance", manifest.provenance());
        log.put("resident_kb", run.memory());
        log.put("query_loss", run.curve());
        return publish.finish(store, manifest, run.trainSeconds(), run.curve(), manifest.ref() + " ("
                + learner.id() + ", " + records.taskCount() + " tasks, " + loss.id() + ")", log);
    }

    /** {@code --topic}: training rows from the samples topic instead of files. */
    static final class TopicSource {
        @Option(names = "--topic", description = "Read the rows from this samples topic (LabelledSample Avro) "
                + "instead of --data.")
        String topic;

        @Option(names = "--from", description = "With --topic: first record timestamp read, an ISO-8601 instant "
                + "such as 2026-11-01T00:00:00Z.")
        Instant from;

        @Option(names = "--to", description = "With --topic: records before this instant. Default: now.")
        Instant toOption;

        Instant to() {
            return toOption != null ? toOption : Instant.now();
        }

        /** @param kafka the cluster (the command's one {@code --bootstrap-server}, which --promote announces on too) */
        SamplesTopicRows.Read read(KafkaClientOptions kafka) {
            if (!kafka.given() || from == null) {
                throw new IllegalArgumentException("--topic needs --bootstrap-server (or --command-config) and --from");
            }
            return SamplesTopicRows.read(kafka.clientProperties(), topic, from, to(), Duration.ofMinutes(2));
        }
    }
}

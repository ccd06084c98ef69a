package io.metastream.streamapp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.metastream.data.omniglot.Omniglot;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.training.protonet.ProtoNetEvaluation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code eval --dataset omniglot}: N-way K-shot accuracy of a stored protonet on held-out alphabets. */
final class OmniglotEval {
    private OmniglotEval() {
    }

    static int run(EvalCommand c) throws IOException {
        int shots = c.shots != null ? c.shots : 1;
        int queries = c.queries != null ? c.queries : 15;
        if (c.tasks < 2 || c.ways < 2 || shots < 1 || queries < 1) {
            throw new IllegalArgumentException("--tasks and --ways must be >= 2 and --shots, --queries >= 1, got "
                    + c.tasks + ", " + c.ways + ", " + shots + ", " + queries);
        }
        DjlRuntime.start(Runtime.getRuntime().availableProcessors());
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(c.model);
        String ref = c.ref != null ? c.ref : "omniglot";
        int at = ref.indexOf('@');
        String name = at < 0 ? ref : ref.substring(0, at);
        String version = at >= 0 ? ref.substring(at + 1) : EvalCommand.newest(store.versions(name));
        BaseModelArtifacts.ProtoNetArtifact model = BaseModelArtifacts.loadProtoNet(store, name, version);
        Omniglot data = OmniglotData.load(c.data);
        List<String> test = c.testAlphabets != null ? c.testAlphabets : heldOut(model);
        data.characters(test); // throws naming an unknown alphabet
        long start = System.nanoTime();
        Evaluation.Estimate e = ProtoNetEvaluation.evaluate(model.embedding(), data.characters(test), c.ways, shots,
                queries, c.tasks, c.seed, DjlRuntime.defaultDevice());
        double seconds = (System.nanoTime() - start) / 1e9;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("metric", "accuracy");
        out.put("mean", e.mean());
        out.put("ci95", e.ci95());
        out.put("tasks", e.tasks());
        out.put("model", model.manifest().ref());
        out.put("learner", model.manifest().learner());
        out.put("dataset", "omniglot");
        out.put("data_source", data.source());
        out.put("test_alphabets", test);
        out.put("ways", c.ways);
        out.put("shots", shots);
        out.put("queries_per_class", queries);
        out.put("protocol", "classes within one alphabet, no rotations");
        out.put("seed", c.seed);
        out.put("seconds", Math.round(seconds * 100) / 100.0);
        System.out.printf(Locale.ROOT, "%s (protonet) %d-way %d-shot on %s: accuracy %.4f ± %.4f over %d tasks%n",
                model.manifest().ref(), c.ways, shots, test, e.mean(), e.ci95(), e.tasks());
        if (c.report != null) {
            Path parent = c.report.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(c.report.toFile(), out);
        }
        return 0;
    }

    /** The test alphabets recorded in the model's provenance at training time. */
    @SuppressWarnings("unchecked")
    private static List<String> heldOut(BaseModelArtifacts.ProtoNetArtifact model) {
        Object v = model.manifest().provenance().get("test_alphabets");
        if (!(v instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException(model.manifest().ref() + " records no test_alphabets; pass "
                    + "--test-alphabets");
        }
        return (List<String>) list;
    }
}

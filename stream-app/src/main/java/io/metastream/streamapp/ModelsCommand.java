package io.metastream.streamapp;

import io.metastream.learn.Loss;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.ModelChange;
import io.metastream.server.ModelPromotion;
import io.metastream.store.AliasMove;
import io.metastream.store.LoadedArtifact;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStore;
import io.metastream.streams.ModelArtifacts;
import io.metastream.streams.Topics;
import io.metastream.training.imports.WeightImport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code models list | show | publish | promote | rollback | verify}. */
@Command(name = "models", mixinStandardHelpOptions = true,
        description = "Inspect and manage the model store; promote and roll back while the pipeline runs.",
        subcommands = {ModelsCommand.ListModels.class, ModelsCommand.Show.class, ModelsCommand.Publish.class, ModelsCommand.Import.class,
                ModelsCommand.Promote.class, ModelsCommand.Rollback.class, ModelsCommand.Verify.class})
final class ModelsCommand {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Options every models subcommand takes. */
    static final class StoreOptions {
        @Option(names = "--store", defaultValue = "metastream-data/models",
                description = "Model store root (default ${DEFAULT-VALUE}).")
        Path store;

        @Option(names = "--json", description = "Machine-readable output.")
        boolean json;

        ModelStore open() {
            return new LocalDirectoryModelStore(store);
        }

        void print(Object jsonValue, String human) {
            if (json) {
                try {
                    System.out.println(JSON.writeValueAsString(jsonValue));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            } else {
                System.out.println(human);
            }
        }
    }

    /**
     * Options of the commands that tell running instances: with a cluster ({@code --bootstrap-server},
     * {@code --command-config}) the change is announced on its models topic, so running instances
     * swap; without one only the store's alias moves.
     */
    static final class AnnounceOptions {
        @Mixin
        KafkaClientOptions kafka = new KafkaClientOptions();

        @Option(names = "--models-topic", defaultValue = "models", description = "Default ${DEFAULT-VALUE}.")
        String modelsTopic;

        @Option(names = "--artifacts-topic", defaultValue = "model-artifacts", description = "Where the version's "
                + "files go, so instances whose stores lack it fetch it. Default ${DEFAULT-VALUE}.")
        String artifactsTopic;

        /** The announcing producer's settings, or null for a store-only move. */
        Map<String, Object> client() {
            return kafka.clientProperties();
        }

        Topics topics() {
            Topics d = Topics.defaults();
            return Topics.named(d.samples().name(), d.queries().name(), d.predictions().name(),
                    d.adaptations().name(), d.deadLetters().name(), modelsTopic, d.modelEvents().name(),
                    artifactsTopic);
        }
    }

    /** {@code NAME} or {@code NAME@VERSION_OR_ALIAS}. */
    record Ref(String name, String version) {
        static Ref parse(String text) {
            int at = text.indexOf('@');
            return at < 0 ? new Ref(text, null) : new Ref(text.substring(0, at), text.substring(at + 1));
        }
    }

    static JsonNode tree(ModelManifest m) {
        try {
            return JSON.readTree(m.toJson());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Map<String, Object> changeJson(ModelChange c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", c.getModelName());
        m.put("alias", c.getAlias());
        m.put("version", c.getVersion());
        m.put("previous_version", c.getPreviousVersion());
        m.put("action", c.getAction());
        m.put("changed_at", c.getChangedAt().toString());
        m.put("artifact_digest", c.getArtifactDigest());
        return m;
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Models, their versions and aliases.")
    static final class ListModels implements Callable<Integer> {
        @Mixin
        StoreOptions options;

        @Override
        public Integer call() {
            ModelStore store = options.open();
            List<Map<String, Object>> out = new ArrayList<>();
            StringBuilder human = new StringBuilder();
            for (String name : store.modelNames()) {
                List<String> versions = store.versions(name).stream().map(ModelManifest::version).toList();
                Map<String, String> aliases = aliases(store, name);
                out.add(Map.of("name", name, "versions", versions, "aliases", aliases));
                human.append(String.format("%-24s %d version(s)  latest %s  aliases %s%n", name, versions.size(),
                        versions.get(versions.size() - 1), aliases));
            }
            options.print(out, human.length() == 0 ? "no models in " + options.store : human.toString().stripTrailing());
            return 0;
        }
    }

    static Map<String, String> aliases(ModelStore store, String name) {
        Map<String, String> aliases = new LinkedHashMap<>();
        for (AliasMove move : store.aliasHistory(name)) {
            aliases.put(move.alias(), move.to());
        }
        return aliases;
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "A model's versions, aliases and history, or one version's manifest.")
    static final class Show implements Callable<Integer> {
        @Mixin
        StoreOptions options;

        @Parameters(paramLabel = "NAME[@VERSION]")
        String ref;

        @Override
        public Integer call() {
            ModelStore store = options.open();
            Ref r = Ref.parse(ref);
            if (r.version() != null) {
                ModelManifest m = store.load(r.name(), r.version()).manifest();
                options.print(tree(m), m.toJson());
                return 0;
            }
            List<JsonNode> versions = store.versions(r.name()).stream().map(ModelsCommand::tree).toList();
            List<AliasMove> history = store.aliasHistory(r.name());
            Map<String, String> aliases = aliases(store, r.name());
            StringBuilder human = new StringBuilder(r.name() + " in " + options.store + "\n");
            human.append(String.format("  %-8s %-10s %-26s %-12s %s%n", "version", "learner", "created", "mse_adapted",
                    "aliases"));
            for (ModelManifest m : store.versions(r.name())) {
                Object metrics = m.provenance().get("metrics");
                Object mse = metrics instanceof Map<?, ?> map ? map.get("mse_adapted") : null;
                List<String> here = aliases.entrySet().stream().filter(e -> e.getValue().equals(m.version()))
                        .map(Map.Entry::getKey).toList();
                human.append(String.format("  %-8s %-10s %-26s %-12s %s%n", m.version(), m.learner(), m.createdAt(),
                        mse instanceof Number n ? String.format("%.4f", n.doubleValue()) : "-", String.join(",", here)));
            }
            human.append("alias history:\n");
            for (AliasMove move : history) {
                human.append(String.format("  %s  %-10s %-8s %s -> %s%n", move.time(), move.alias(), move.action(),
                        Objects.toString(move.from(), "-"), move.to()));
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("name", r.name());
            out.put("versions", versions);
            out.put("aliases", aliases);
            out.put("history", history.stream().map(m -> Map.of("time", m.time().toString(), "alias", m.alias(),
                    "from", Objects.toString(m.from(), ""), "to", m.to(), "action", m.action())).toList());
            options.print(out, human.toString().stripTrailing());
            return 0;
        }
    }

    @Command(name = "publish", mixinStandardHelpOptions = true,
            description = "Verify an artifact directory (manifest.json + files, e.g. a version copied from "
                    + "another store) and publish it here as the model's next version.")
    static final class Publish implements Callable<Integer> {
        @Mixin
        StoreOptions options;

        @Mixin
        AnnounceOptions announce;

        @Parameters(paramLabel = "DIR")
        Path dir;

        @Override
        public Integer call() {
            LoadedArtifact artifact = LocalDirectoryModelStore.readArtifactDirectory(dir);
            ModelStore store = options.open();
            ModelManifest m = store.publish(artifact.manifest().name(), artifact.manifest().toDraft(),
                    artifact.files());
            Map<String, Object> client = announce.client();
            String where = "";
            if (client != null) {
                // The files only: no alias moves, so no instance serves it until it is promoted.
                new ModelArtifacts(client, announce.topics().modelArtifacts().name(),
                        ModelArtifacts.DEFAULT_CHUNK_BYTES, ModelArtifacts.DEFAULT_MAX_BYTES)
                        .publish(store, m.name(), m.version());
                where = "; its files written to " + announce.topics().modelArtifacts().name();
            }
            options.print(tree(m), "published " + m.ref() + " (from " + artifact.ref() + " in " + dir + ")" + where);
            return 0;
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = "Import an MLP's weights saved from PyTorch as safetensors (examples/pytorch/) as the next "
                    + "version of a model: Linear layers in order, ReLU between them, the last one linear.")
    static final class Import implements Callable<Integer> {
        @Mixin
        StoreOptions options;

        @Option(names = "--safetensors", required = true, description = "The weights file.")
        Path file;

        @Option(names = "--name", required = true, description = "Model name in the store.")
        String name;

        @Option(names = "--layers", split = ",", description = "The Linear layers' name prefixes in order, e.g. "
                + "net.0,net.2 (default: every <prefix>.weight with a <prefix>.bias, by the numbers in the names).")
        List<String> layers = List.of();

        @Option(names = "--learner", defaultValue = "reptile", paramLabel = "ID",
                converter = LearnerOption.KindConverter.class, completionCandidates = LearnerOption.Importable.class,
                description = "Manifest learner, one that adapts by plain SGD: ${COMPLETION-CANDIDATES}. "
                        + "Default ${DEFAULT-VALUE}.")
        LearnerKind learner;

        @Option(names = "--loss", defaultValue = "mse", description = "mse, mae or logistic (predictions served as "
                + "probabilities). Default ${DEFAULT-VALUE}.")
        String loss;

        @Option(names = "--inner-steps", defaultValue = "5", description = "Online SGD steps. Default ${DEFAULT-VALUE}.")
        int innerSteps;

        @Option(names = "--inner-step-size", defaultValue = "0.05", description = "Default ${DEFAULT-VALUE}.")
        float innerStepSize;

        @Option(names = "--promote", description = "Point this alias (e.g. production) at the new version.")
        String promote;

        @Override
        public Integer call() throws IOException {
            ModelStore store = options.open();
            ModelManifest m = WeightImport.publish(store, name, file, layers, learner,
                    new AdaptationSettings(innerSteps, innerStepSize, 0f,
                            Loss.fromId(loss)));
            if (promote != null) {
                store.setAlias(name, promote, m.version());
            }
            options.print(Map.of("ref", m.ref(), "input_shape", m.inputShape()), "imported " + m.ref() + " from "
                    + file.getFileName() + (promote != null ? "; " + promote + " -> " + m.ref() : ""));
            return 0;
        }
    }

    @Command(name = "promote", mixinStandardHelpOptions = true,
            description = "Verify NAME@VERSION, point an alias at it, and announce it to running instances.")
    static final class Promote implements Callable<Integer> {
        @Mixin
        StoreOptions options;

        @Mixin
        AnnounceOptions announce;

        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Parameters(index = "1", paramLabel = "VERSION")
        String version;

        @Option(names = "--alias", defaultValue = "production", description = "Default ${DEFAULT-VALUE}.")
        String alias;

        @Option(names = "--expect", paramLabel = "VERSION", description = "Move the alias only if it points at "
                + "VERSION now (compare-and-set). Default: the version it points at when the command starts, so a "
                + "move by someone else during verification makes this command fail, not overwrite it.")
        String expect;

        @Override
        public Integer call() {
            ModelStore store = options.open();
            String expected = expect != null ? expect : store.alias(name, alias).orElse(null);
            Map<String, Object> client = announce.client();
            ModelChange c = ModelPromotion.compareAndPromote(store, name, alias, expected, version, true, client,
                    announce.topics());
            options.print(changeJson(c), alias + ": " + Objects.toString(c.getPreviousVersion(), "-") + " -> "
                    + c.getVersion() + (client == null ? " (store only)" : " (announced)"));
            return 0;
        }
    }

    @Command(name = "rollback", mixinStandardHelpOptions = true,
            description = "Point an alias back at the version it had before its current one, and announce it.")
    static final class Rollback implements Callable<Integer> {
        @Mixin
        StoreOptions options;

        @Mixin
        AnnounceOptions announce;

        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = "--alias", defaultValue = "production", description = "Default ${DEFAULT-VALUE}.")
        String alias;

        @Option(names = "--expect", paramLabel = "VERSION", description = "Roll back only if the alias points at "
                + "VERSION now (compare-and-set). Default: the version it points at when the command starts.")
        String expect;

        @Override
        public Integer call() {
            ModelStore store = options.open();
            String expected = expect != null ? expect : store.alias(name, alias).orElseThrow(() ->
                    new IllegalStateException("alias '" + alias + "' of " + name + " was never set"));
            Map<String, Object> client = announce.client();
            ModelChange c = ModelPromotion.compareAndRollback(store, name, alias, expected, client, announce.topics());
            options.print(changeJson(c), alias + ": " + c.getPreviousVersion() + " -> " + c.getVersion()
                    + " (rollback" + (client == null ? ", store only)" : ", announced)"));
            return 0;
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Check every checksum and that this build can serve the model; exit 1 if not.")
    static final class Verify implements Callable<Integer> {
        @Mixin
        StoreOptions options;

        @Parameters(paramLabel = "NAME[@VERSION]", description = "Without a version: every version.")
        String ref;

        @Override
        public Integer call() {
            ModelStore store = options.open();
            Ref r = Ref.parse(ref);
            List<String> versions = r.version() != null ? List.of(r.version())
                    : store.versions(r.name()).stream().map(ModelManifest::version).toList();
            List<Map<String, Object>> out = new ArrayList<>();
            StringBuilder human = new StringBuilder();
            boolean allOk = true;
            for (String v : versions) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("ref", r.name() + "@" + v);
                try {
                    BaseModel base = BaseModelArtifacts.load(store, r.name(), v);
                    row.put("ok", true);
                    human.append("ok    ").append(base).append('\n');
                } catch (RuntimeException e) {
                    allOk = false;
                    row.put("ok", false);
                    row.put("error", e.getMessage());
                    human.append("FAIL  ").append(r.name()).append('@').append(v).append(": ").append(e.getMessage())
                            .append('\n');
                }
                out.add(row);
            }
            options.print(out, human.toString().stripTrailing());
            return allOk ? 0 : 1;
        }
    }
}

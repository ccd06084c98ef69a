package io.metastream.streams;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settings from {@code METASTREAM_<KEY>} environment variables, the way containers are configured.
 * A variable's name is its key upper-cased, with {@code .} and {@code -} written {@code _}
 * ({@code METASTREAM_HTTP_PORT} is {@code http.port}), and a variable names a key only by matching
 * one of the keys known to it, so the reverse mapping never guesses:
 * <ul>
 *   <li>every key of {@link MetastreamConfig} (and of any other {@code ConfigDef} the caller adds,
 *       the continual trainer's {@code meta.train.*});
 *   <li>the Kafka client security settings that {@link MetastreamConfig#clientProperties()} passes
 *       through ({@code security.protocol}, {@code ssl.*}, {@code sasl.*}), as the Kafka admin,
 *       producer and consumer define them ({@code METASTREAM_SASL_JAAS_CONFIG} is
 *       {@code sasl.jaas.config});
 *   <li>{@code streams.*}: every Kafka Streams setting, and the consumer, producer and admin
 *       settings under Kafka Streams' client prefixes ({@code METASTREAM_STREAMS_CONSUMER_MAX_POLL_RECORDS}
 *       is {@code streams.consumer.max.poll.records});
 *   <li>any key the properties file itself sets.
 * </ul>
 * Precedence: defaults, then the file, then the environment (then a command line's own flags).
 * A {@code METASTREAM_} variable that names no key is logged as a warning (a typo must not
 * silently leave the file's value in force), except {@code METASTREAM_DEBUG} and
 * {@code METASTREAM_TEST_*}, which are not settings. Values are never logged: passwords and tokens
 * are a main reason to set a key from the environment.
 */
public final class EnvironmentSettings {
    private static final Logger LOG = LoggerFactory.getLogger(EnvironmentSettings.class);

    /** What every settings variable starts with. */
    public static final String PREFIX = "METASTREAM_";
    /** Variables of the same prefix that are not settings: the command line's and the tests' own switches. */
    private static final Set<String> NOT_SETTINGS = Set.of("METASTREAM_DEBUG");
    private static final String NOT_SETTINGS_PREFIX = "METASTREAM_TEST_";
    /** Kafka Streams' prefixes for the settings of one of its clients, after {@code streams.}. */
    private static final List<String> STREAMS_CLIENT_PREFIXES = List.of(StreamsConfig.CONSUMER_PREFIX,
            StreamsConfig.MAIN_CONSUMER_PREFIX, StreamsConfig.RESTORE_CONSUMER_PREFIX,
            StreamsConfig.GLOBAL_CONSUMER_PREFIX, StreamsConfig.PRODUCER_PREFIX, StreamsConfig.ADMIN_CLIENT_PREFIX);

    private final Map<String, String> settings;
    private final Map<String, String> variables;
    private final List<String> warnings;

    private EnvironmentSettings(Map<String, String> settings, Map<String, String> variables, List<String> warnings) {
        this.settings = Collections.unmodifiableMap(settings);
        this.variables = Collections.unmodifiableMap(variables);
        this.warnings = List.copyOf(warnings);
    }

    /** The variable that sets {@code key}: {@code http.port} is {@code METASTREAM_HTTP_PORT}. */
    public static String variable(String key) {
        return PREFIX + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    /**
     * {@code file} with the settings of {@code env} over it, logging which keys the environment
     * set (names only) and a warning for each variable that names none.
     *
     * @param file the properties file's settings (not changed)
     * @param env the environment ({@code System.getenv()}, or a test's map)
     * @param more other {@code ConfigDef}s whose keys the same file holds
     * @throws ConfigException if a variable that is set could name two different keys
     */
    public static Properties over(Properties file, Map<String, String> env, ConfigDef... more) {
        EnvironmentSettings fromEnv = read(env, file.stringPropertyNames(), more);
        Properties merged = new Properties();
        merged.putAll(file);
        merged.putAll(fromEnv.settings());
        fromEnv.log();
        return merged;
    }

    /**
     * The settings {@code env} holds.
     *
     * @param fileKeys keys a properties file sets, which a variable may name besides the known ones
     * @throws ConfigException if a variable that is set could name two different keys
     */
    public static EnvironmentSettings read(Map<String, String> env, Collection<String> fileKeys, ConfigDef... more) {
        Map<String, Set<String>> keysByVariable = new TreeMap<>();
        for (String key : knownKeys(fileKeys, more)) {
            keysByVariable.computeIfAbsent(variable(key), v -> new TreeSet<>()).add(key);
        }
        Map<String, String> settings = new TreeMap<>();
        Map<String, String> variables = new TreeMap<>();
        List<String> warnings = new ArrayList<>();
        for (String name : new TreeSet<>(env.keySet())) {
            if (!name.startsWith(PREFIX) || NOT_SETTINGS.contains(name) || name.startsWith(NOT_SETTINGS_PREFIX)) {
                continue;
            }
            Set<String> keys = keysByVariable.get(name);
            if (keys == null) {
                String nearest = nearest(name, keysByVariable.keySet());
                warnings.add(name + " is set but names no setting, so it is ignored"
                        + (nearest == null ? "" : " (did you mean " + nearest + ", "
                                + keysByVariable.get(nearest).iterator().next() + "?)"));
                continue;
            }
            if (keys.size() > 1) {
                throw new ConfigException(name + " could name any of " + keys + "; set the one you mean in the "
                        + "properties file instead");
            }
            String key = keys.iterator().next();
            settings.put(key, env.get(name));
            variables.put(key, name);
        }
        return new EnvironmentSettings(settings, variables, warnings);
    }

    /** Every key a variable can name, {@link MetastreamConfig}'s first. */
    static Set<String> knownKeys(Collection<String> fileKeys, ConfigDef... more) {
        Set<String> keys = new LinkedHashSet<>(MetastreamConfig.configDef().names());
        for (ConfigDef def : more) {
            keys.addAll(def.names());
        }
        List<Set<String>> clients = List.of(AdminClientConfig.configNames(), ProducerConfig.configNames(),
                ConsumerConfig.configNames());
        for (Set<String> client : clients) {
            client.stream().filter(MetastreamConfig::isClientSecuritySetting).forEach(keys::add);
        }
        for (String key : StreamsConfig.configDef().names()) {
            keys.add(MetastreamConfig.STREAMS_PREFIX + key);
        }
        for (String prefix : STREAMS_CLIENT_PREFIXES) {
            Set<String> client = prefix.equals(StreamsConfig.PRODUCER_PREFIX) ? ProducerConfig.configNames()
                    : prefix.equals(StreamsConfig.ADMIN_CLIENT_PREFIX) ? AdminClientConfig.configNames()
                    : ConsumerConfig.configNames();
            for (String key : client) {
                keys.add(MetastreamConfig.STREAMS_PREFIX + prefix + key);
            }
        }
        keys.addAll(fileKeys);
        return keys;
    }

    /** The known variable nearest {@code name} (a typo's intended name), or null if none is close. */
    private static String nearest(String name, Collection<String> known) {
        String best = null;
        int bestDistance = 3; // at most two edits: further than that is not a typo of it
        for (String candidate : known) {
            if (Math.abs(candidate.length() - name.length()) < bestDistance) {
                int d = editDistance(name, candidate);
                if (d < bestDistance) {
                    bestDistance = d;
                    best = candidate;
                }
            }
        }
        return best;
    }

    private static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitute, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }

    /** The keys set from the environment, with their values, by key. */
    public Map<String, String> settings() {
        return settings;
    }

    /** One warning per {@code METASTREAM_} variable that names no setting. */
    public List<String> warnings() {
        return warnings;
    }

    /** Which keys the environment set and from which variables; never a value. */
    public String summary() {
        StringBuilder out = new StringBuilder();
        variables.forEach((key, variable) -> out.append(out.length() == 0 ? "" : ", ").append(key).append(" (")
                .append(variable).append(')'));
        return out.toString();
    }

    private void log() {
        if (!settings.isEmpty()) {
            LOG.info("settings from the environment, over the file: {}", summary());
        }
        warnings.forEach(LOG::warn);
    }
}

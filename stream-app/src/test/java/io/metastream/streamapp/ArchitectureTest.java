package io.metastream.streamapp;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaMember;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.domain.JavaType;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The module layering of docs/ARCHITECTURE.md, checked on the main classes of every module this
 * module sees (all but bench and the examples). Each module imports only modules below it; the
 * library ({@code io.metastream.streams}) stays free of data sets, training, server, CLI and test
 * kit, keeps DJL types out of its public API and keeps its public surface small.
 *
 * <p>Each rule is checked from an {@code @ArchTest} method rather than held in an {@code @ArchTest}
 * field: Surefire's {@code -Dtest=} filter keeps only tests with a method source and silently drops
 * field-declared rules.
 */
@AnalyzeClasses(packages = "io.metastream",
        importOptions = {ImportOption.DoNotIncludeTests.class, ArchitectureTest.DoNotIncludeTestJars.class})
class ArchitectureTest {
    /** The library's public package; everything under {@code internals} is not API. */
    private static final String LIBRARY_API = "io.metastream.streams";
    private static final int MAX_PUBLIC_LIBRARY_TYPES = 20;

    /**
     * Leaves out test jars ({@code *-tests.jar}), which a build that resolves siblings from the local
     * repository puts on the class path; {@link ImportOption.DoNotIncludeTests} only knows folders.
     */
    static final class DoNotIncludeTestJars implements ImportOption {
        private static final Pattern TEST_JAR = Pattern.compile(".*-tests\\.jar!/.*");

        @Override
        public boolean includes(Location location) {
            return !location.matches(TEST_JAR);
        }
    }

    private static final ArchRule MODULES_IMPORT_ONLY_MODULES_BELOW_THEM = layeredArchitecture()
            .consideringOnlyDependenciesInLayers()
            .layer("schemas").definedBy("io.metastream.schemas..")
            .layer("model-store").definedBy("io.metastream.store..")
            .layer("meta-learn").definedBy("io.metastream.learn..")
            .layer("datasets").definedBy("io.metastream.data..")
            .layer("training").definedBy("io.metastream.training..")
            .layer("streams").definedBy("io.metastream.streams..")
            .layer("server").definedBy("io.metastream.server..")
            .layer("embedded").definedBy("io.metastream.embedded..")
            .layer("testkit").definedBy("io.metastream.testkit..")
            .layer("stream-app").definedBy("io.metastream.streamapp..")
            .whereLayer("schemas").mayNotAccessAnyLayer()
            .whereLayer("model-store").mayOnlyAccessLayers("schemas")
            .whereLayer("meta-learn").mayOnlyAccessLayers("schemas", "model-store")
            .whereLayer("datasets").mayOnlyAccessLayers("schemas", "model-store", "meta-learn")
            .whereLayer("training").mayOnlyAccessLayers("schemas", "model-store", "meta-learn", "datasets")
            .whereLayer("streams").mayOnlyAccessLayers("schemas", "model-store", "meta-learn")
            .whereLayer("server").mayOnlyAccessLayers(
                    "schemas", "model-store", "meta-learn", "datasets", "training", "streams")
            .whereLayer("embedded").mayOnlyAccessLayers(
                    "schemas", "model-store", "meta-learn", "datasets", "training", "streams", "server")
            .whereLayer("stream-app").mayOnlyAccessLayers(
                    "schemas", "model-store", "meta-learn", "datasets", "training", "streams", "server",
                    "embedded")
            .because("each module imports only the modules below it (docs/ARCHITECTURE.md)");

    @ArchTest
    static void modulesImportOnlyModulesBelowThem(JavaClasses classes) {
        MODULES_IMPORT_ONLY_MODULES_BELOW_THEM.check(classes);
    }

    private static final ArchRule MAIN_CODE_NEVER_USES_THE_TEST_KIT = noClasses()
            .that().resideOutsideOfPackage("io.metastream.testkit..")
            .should().dependOnClassesThat().resideInAPackage("io.metastream.testkit..")
            .because("the test kit is for test scope only; production code that reaches it ships a broker");

    @ArchTest
    static void mainCodeNeverUsesTheTestKit(JavaClasses classes) {
        MAIN_CODE_NEVER_USES_THE_TEST_KIT.check(classes);
    }

    private static final ArchRule LEARNERS_AND_DATA_SETS_KNOW_NO_KAFKA = noClasses()
            .that().resideInAnyPackage("io.metastream.learn..", "io.metastream.data..", "io.metastream.training..")
            .should().dependOnClassesThat().resideInAPackage("org.apache.kafka..")
            .because("models, learners, data sets and offline training run without a broker; the"
                    + " Kafka-side trainer lives in server");

    @ArchTest
    static void learnersAndDataSetsKnowNoKafka(JavaClasses classes) {
        LEARNERS_AND_DATA_SETS_KNOW_NO_KAFKA.check(classes);
    }

    private static final ArchRule MODEL_STORE_KNOWS_NO_DJL_AND_NO_KAFKA_STREAMS = noClasses()
            .that().resideInAPackage("io.metastream.store..")
            .should().dependOnClassesThat().resideInAnyPackage("ai.djl..", "org.apache.kafka.streams..")
            .because("the model store keeps bytes and manifests, whatever reads them");

    @ArchTest
    static void modelStoreKnowsNoDjlAndNoKafkaStreams(JavaClasses classes) {
        MODEL_STORE_KNOWS_NO_DJL_AND_NO_KAFKA_STREAMS.check(classes);
    }

    private static final ArchRule LIBRARY_API_MENTIONS_NO_DJL_TYPE = classes()
            .that(arePartOfTheLibraryApi())
            .should(mentionNoTypeFrom("ai.djl"))
            .because("an application embeds the library without compiling against DJL; devices are names"
                    + " (\"cpu\", \"gpu:0\")");

    @ArchTest
    static void libraryApiMentionsNoDjlType(JavaClasses classes) {
        LIBRARY_API_MENTIONS_NO_DJL_TYPE.check(classes);
    }

    @ArchTest
    static void libraryHasAtMost20PublicTypesOutsideInternals(JavaClasses classes) {
        Set<String> publicTypes = new TreeSet<>();
        for (JavaClass c : classes) {
            if (c.getPackageName().equals(LIBRARY_API) && c.isTopLevelClass()
                    && c.getModifiers().contains(JavaModifier.PUBLIC)) {
                publicTypes.add(c.getSimpleName());
            }
        }
        assertThat(publicTypes)
                .as("public top-level types of %s outside internals (move the rest to %s.internals)",
                        LIBRARY_API, LIBRARY_API)
                .isNotEmpty()
                .hasSizeLessThanOrEqualTo(MAX_PUBLIC_LIBRARY_TYPES);
    }

    /** Public types of the library's public package, nested ones too when every enclosing type is public. */
    private static DescribedPredicate<JavaClass> arePartOfTheLibraryApi() {
        return DescribedPredicate.describe("are part of the public API of " + LIBRARY_API,
                c -> c.getPackageName().equals(LIBRARY_API) && isVisibleFromOutside(c));
    }

    private static boolean isVisibleFromOutside(JavaClass c) {
        return c.getModifiers().contains(JavaModifier.PUBLIC)
                && c.getEnclosingClass().map(ArchitectureTest::isVisibleFromOutside).orElse(true);
    }

    /**
     * Neither the type's supertypes nor the signatures of its public and protected members (return,
     * parameter, type-parameter, thrown and field types, generics included) name a type in {@code prefix}.
     */
    private static ArchCondition<JavaClass> mentionNoTypeFrom(String prefix) {
        return new ArchCondition<>("mention no " + prefix + " type in their public API") {
            @Override
            public void check(JavaClass c, ConditionEvents events) {
                Set<JavaClass> supertypes = new LinkedHashSet<>();
                c.getSuperclass().ifPresent(s -> supertypes.addAll(s.getAllInvolvedRawTypes()));
                for (JavaType i : c.getInterfaces()) {
                    supertypes.addAll(i.getAllInvolvedRawTypes());
                }
                report(c, c.getFullName() + " extends or implements", supertypes, events);
                for (JavaMember m : c.getMembers()) {
                    Set<JavaModifier> modifiers = m.getModifiers();
                    if (!modifiers.contains(JavaModifier.PUBLIC) && !modifiers.contains(JavaModifier.PROTECTED)) {
                        continue;
                    }
                    Set<JavaClass> involved = new LinkedHashSet<>(m.getAllInvolvedRawTypes());
                    if (m instanceof JavaCodeUnit unit) {
                        involved.addAll(unit.getThrowsClause().getTypes());
                    }
                    report(c, m.getFullName(), involved, events);
                }
            }

            private void report(JavaClass owner, String where, Set<JavaClass> types, ConditionEvents events) {
                List<String> offending = types.stream()
                        .map(JavaClass::getName)
                        .filter(name -> name.startsWith(prefix + "."))
                        .distinct().sorted().toList();
                if (!offending.isEmpty()) {
                    events.add(SimpleConditionEvent.violated(owner, where + " mentions " + offending));
                }
            }
        };
    }
}

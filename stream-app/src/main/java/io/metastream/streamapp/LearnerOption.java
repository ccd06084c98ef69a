package io.metastream.streamapp;

import io.metastream.learn.LearnerKind;
import io.metastream.learn.MetaTrainer;
import io.metastream.training.imports.WeightImport;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.function.Predicate;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The {@code --learner} option of the commands that train or import a base: ids parsed by
 * {@link LearnerKind}, and the ids each command accepts, which its help lists through
 * {@code ${COMPLETION-CANDIDATES}}.
 */
final class LearnerOption {
    private LearnerOption() {
    }

    /** A learner id; an unknown one is a usage error that names the known ones. */
    static final class KindConverter implements ITypeConverter<LearnerKind> {
        @Override
        public LearnerKind convert(String id) {
            try {
                return LearnerKind.fromId(id);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** A learner that {@link MetaTrainer} trains; another is a usage error that names those. */
    static final class AlgorithmConverter implements ITypeConverter<MetaTrainer.Algorithm> {
        @Override
        public MetaTrainer.Algorithm convert(String id) {
            try {
                return MetaTrainer.Algorithm.fromId(id);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** Every MLP learner: what {@code train sinusoid} trains. */
    static final class Served implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return LearnerKind.ids(LearnerKind::isMlp).iterator();
        }
    }

    /** The learners {@link MetaTrainer} trains. */
    static final class MetaTrained implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return algorithmIds(a -> true).iterator();
        }
    }

    /** {@link MetaTrained} but for the ridge head, which is squared error only. */
    static final class AnyLoss implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return algorithmIds(a -> a != MetaTrainer.Algorithm.ANIL_RIDGE).iterator();
        }
    }

    /** The learners an imported MLP can name ({@link WeightImport#IMPORTABLE}). */
    static final class Importable implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return LearnerKind.ids(WeightImport.IMPORTABLE).iterator();
        }
    }

    private static List<String> algorithmIds(Predicate<MetaTrainer.Algorithm> filter) {
        return Arrays.stream(MetaTrainer.Algorithm.values()).filter(filter).map(MetaTrainer.Algorithm::id).toList();
    }
}

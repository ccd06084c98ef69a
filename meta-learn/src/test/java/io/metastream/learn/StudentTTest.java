package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class StudentTTest {
    @Test
    void shouldMatchPublishedTwoSided95PercentValuesToThreeDecimals() {
        // t(0.975, df) from any table of the t distribution (e.g. Fisher and Yates; NIST/SEMATECH 1.3.6.7.2).
        int[] df = {1, 2, 3, 4, 5, 9, 10, 19, 29, 30, 60, 120};
        double[] table = {12.706, 4.303, 3.182, 2.776, 2.571, 2.262, 2.228, 2.093, 2.045, 2.042, 2.000, 1.980};
        for (int i = 0; i < df.length; i++) {
            assertThat(StudentT.quantile(0.975, df[i])).as("df=%d", df[i]).isCloseTo(table[i], within(5e-4));
        }
        assertThat(StudentT.quantile(0.995, 1)).isCloseTo(63.657, within(5e-4));
        assertThat(StudentT.quantile(0.95, 9)).isCloseTo(1.833, within(5e-4));
        assertThat(StudentT.quantile(0.995, 29)).isCloseTo(2.756, within(5e-4));
    }

    @Test
    void shouldApproachTheNormalQuantileAsTheDegreesOfFreedomGrow() {
        assertThat(StudentT.normalQuantile(0.975)).isCloseTo(1.959963984540054, within(1e-12));
        assertThat(StudentT.normalQuantile(0.995)).isCloseTo(2.575829303548901, within(1e-12));
        assertThat(StudentT.normalQuantile(0.95)).isCloseTo(1.644853626951472, within(1e-12));
        assertThat(StudentT.quantile(0.975, 1_000_000)).isCloseTo(1.960, within(5e-4))
                .isGreaterThan(StudentT.normalQuantile(0.975));
        double previous = Double.POSITIVE_INFINITY;
        for (int df : new int[] {1, 2, 5, 10, 100, 1000, 1001, 10_000, 1_000_000}) {
            double q = StudentT.quantile(0.975, df);
            assertThat(q).as("df=%d", df).isLessThan(previous);
            previous = q;
        }
    }

    @Test
    void shouldInvertItsOwnDistributionFunctionAndBeSymmetric() {
        for (int df : new int[] {1, 2, 3, 7, 30, 250, 1000}) {
            for (double p : new double[] {0.001, 0.1, 0.5, 0.8, 0.975, 0.999}) {
                double t = StudentT.quantile(p, df);
                assertThat(StudentT.cdf(t, df)).as("df=%d p=%s", df, p).isCloseTo(p, within(1e-12));
                assertThat(StudentT.quantile(1 - p, df)).isCloseTo(-t, within(1e-9 * Math.max(1, Math.abs(t))));
            }
        }
        // Closed forms: the Cauchy distribution (df 1), and F(t) = 1/2 + t / (2 sqrt(2 + t^2)) for df 2.
        assertThat(StudentT.cdf(1, 1)).isCloseTo(0.75, within(1e-15));
        assertThat(StudentT.cdf(1.5, 2)).isCloseTo(0.5 + 1.5 / (2 * Math.sqrt(2 + 2.25)), within(1e-15));
    }

    @Test
    void shouldAgreeWithTheClosedFormWhereItSwitchesToTheExpansion() {
        // Below the switch the quantile inverts the exact distribution function; above it the
        // Cornish-Fisher expansion takes over. Their difference falls as df^-5, so a wrong
        // coefficient would show at 100 degrees of freedom.
        for (double p : new double[] {0.9, 0.975, 0.995}) {
            for (int df : new int[] {100, StudentT.EXPANSION_ABOVE}) {
                double exact = StudentT.quantile(p, df);
                double expansion = StudentT.cornishFisher(StudentT.normalQuantile(p), df);
                assertThat(expansion).as("df=%d p=%s", df, p).isCloseTo(exact, within(df == 100 ? 1e-9 : 1e-12));
            }
        }
    }

    @Test
    void shouldGiveTheHalfWidthOfAnIntervalOverNValues() {
        assertThat(StudentT.criticalValue(0.95, 10)).isCloseTo(2.262, within(5e-4));
        assertThat(StudentT.criticalValue(0.95, 10) / 1.96).as("1.96 is 13% too narrow at n = 10")
                .isGreaterThan(1.15);
        assertThatThrownBy(() -> StudentT.criticalValue(0.95, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 2 values");
        assertThatThrownBy(() -> StudentT.quantile(1, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> StudentT.quantile(0.5, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void shouldReportEvaluationIntervalsWithTheTQuantile() {
        Evaluation.Estimate e = Evaluation.Estimate.of(new double[] {1, 2, 3, 4, 5});
        // sd = sqrt(2.5), standard error sqrt(0.5); t(0.975, 4) = 2.776.
        assertThat(e.mean()).isEqualTo(3.0);
        assertThat(e.ci95()).isCloseTo(2.776 * Math.sqrt(0.5), within(1e-3));
        assertThat(Evaluation.Estimate.of(new double[] {7}).ci95()).isZero();
    }
}

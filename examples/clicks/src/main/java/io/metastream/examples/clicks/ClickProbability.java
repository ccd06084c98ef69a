package io.metastream.examples.clicks;

/** The application's own output: how likely {@code user} is to click {@code impression}. */
public record ClickProbability(String user, String impression, double probability, boolean personal,
        int clicksSeen, String model) {
}

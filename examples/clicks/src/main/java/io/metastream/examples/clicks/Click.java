package io.metastream.examples.clicks;

/** The application's own event: an ad shown to a user, with whether they clicked (null: not yet known). */
public record Click(String user, String impression, float[] features, Boolean clicked, long time) {
}

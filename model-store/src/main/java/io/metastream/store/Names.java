package io.metastream.store;

import java.util.regex.Pattern;

/** The naming rules of the store; each check throws {@link IllegalArgumentException} naming the value. */
final class Names {
    static final String MANIFEST_FILE = "manifest.json";
    static final Pattern MODEL_NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");
    /** Aliases start with a letter, so an alias can never be mistaken for a version. */
    static final Pattern ALIAS = Pattern.compile("[a-z][a-z0-9._-]{0,63}");
    static final Pattern VERSION = Pattern.compile("[1-9][0-9]{0,17}");
    static final Pattern FILE_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]{0,127}");
    static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

    private Names() {
    }

    static String checkModelName(String name) {
        return check(name, MODEL_NAME, "model name");
    }

    static String checkAlias(String alias) {
        return check(alias, ALIAS, "alias");
    }

    static String checkVersion(String version) {
        return check(version, VERSION, "version");
    }

    static boolean isVersion(String s) {
        return s != null && VERSION.matcher(s).matches();
    }

    /** A simple file name: no separators, no {@code ..}, not hidden, not the manifest's own name. */
    static String checkFileName(String fileName) {
        check(fileName, FILE_NAME, "file name");
        if (fileName.contains("..") || fileName.equals(MANIFEST_FILE)) {
            throw new IllegalArgumentException("file name must not contain '..' nor be '"
                    + MANIFEST_FILE + "', was: '" + fileName + "'");
        }
        return fileName;
    }

    private static String check(String value, Pattern pattern, String what) {
        if (value == null || !pattern.matcher(value).matches()) {
            throw new IllegalArgumentException(what + " must match " + pattern.pattern() + ", was: "
                    + (value == null ? "null" : "'" + value + "'"));
        }
        return value;
    }
}

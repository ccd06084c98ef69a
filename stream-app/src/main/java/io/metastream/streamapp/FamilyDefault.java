package io.metastream.streamapp;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;

/**
 * Keeps the {@code train} and {@code eval} spellings from before the task families became
 * subcommands working, with a one-line note on the new one: {@code train --dataset movielens ...}
 * runs {@code train movielens ...}, and options without a family ({@code train --learner maml
 * ...}) run {@code train sinusoid ...}, the family that was the default. Every other usage error
 * goes to picocli's handler: the message and the usage, which lists the families.
 */
final class FamilyDefault implements IParameterExceptionHandler {
    /** The family that {@code --dataset} defaulted to. */
    static final String DEFAULT_FAMILY = "sinusoid";

    private final IParameterExceptionHandler next;

    FamilyDefault(IParameterExceptionHandler next) {
        this.next = next;
    }

    @Override
    public int handleParseException(ParameterException ex, String[] args) throws Exception {
        CommandLine root = ex.getCommandLine();
        while (root.getParent() != null) {
            root = root.getParent();
        }
        Optional<List<String>> rewritten = rewrite(root, List.of(args));
        if (rewritten.isEmpty()) {
            return next.handleParseException(ex, args);
        }
        List<String> now = rewritten.get();
        root.getErr().println("note: this is `" + now.get(0) + " " + now.get(1) + " ...` now; the task family "
                + "comes first (see `" + now.get(0) + " --help`)");
        return root.execute(now.toArray(String[]::new));
    }

    /**
     * {@code args} in the new spelling, or empty when they are not in the old one. A rewritten
     * command line starts with a family, so it is never rewritten again.
     */
    static Optional<List<String>> rewrite(CommandLine root, List<String> args) {
        if (args.size() < 2) {
            return Optional.empty();
        }
        CommandLine command = root.getSubcommands().get(args.get(0));
        if (command == null || command.getSubcommands().isEmpty()
                || command.getSubcommands().containsKey(args.get(1))) {
            return Optional.empty();
        }
        List<String> rest = new ArrayList<>(args.subList(1, args.size()));
        String family = null;
        for (int i = 0; i < rest.size() && family == null; i++) {
            if (rest.get(i).equals("--dataset") && i + 1 < rest.size()) {
                family = rest.remove(i + 1);
                rest.remove(i);
            } else if (rest.get(i).startsWith("--dataset=")) {
                family = rest.remove(i).substring("--dataset=".length());
            }
        }
        if (family == null && rest.get(0).startsWith("-")) {
            family = DEFAULT_FAMILY;
        }
        if (family == null || !command.getSubcommands().containsKey(family)) {
            return Optional.empty();
        }
        List<String> now = new ArrayList<>();
        now.add(args.get(0));
        now.add(family);
        now.addAll(rest);
        return Optional.of(now);
    }
}

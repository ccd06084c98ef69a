package io.metastream.store;

import java.nio.file.Path;

/**
 * A second process for {@link AliasCompareAndSetTest}: moves an alias between versions with
 * compare-and-set until it has made its number of moves, retrying after each conflict, and prints
 * {@code moved <n> conflicts <m>}.
 */
public final class AliasMoverMain {
    private AliasMoverMain() {
    }

    public static void main(String[] args) {
        int[] outcome = moveRepeatedly(new LocalDirectoryModelStore(Path.of(args[0])), args[1], args[2],
                Integer.parseInt(args[3]));
        System.out.println("moved " + outcome[0] + " conflicts " + outcome[1]);
    }

    /**
     * Reads the alias and moves it to {@code target} (or back to 1 when it is there already), {@code moves}
     * times; a conflict is counted and the move retried from a fresh read.
     *
     * @return the moves made and the conflicts met
     */
    static int[] moveRepeatedly(ModelStore store, String model, String target, int moves) {
        int made = 0;
        int conflicts = 0;
        while (made < moves) {
            String seen = store.alias(model, "production").orElseThrow();
            try {
                store.compareAndSetAlias(model, "production", seen, seen.equals(target) ? "1" : target);
                made++;
            } catch (AliasConflictException e) {
                conflicts++;
            }
        }
        return new int[] {made, conflicts};
    }
}

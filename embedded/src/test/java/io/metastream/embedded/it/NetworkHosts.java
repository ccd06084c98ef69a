package io.metastream.embedded.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Several hosts on one machine: Linux network namespaces made with {@code ip} (iproute2), each
 * with one interface and its own address on a shared subnet, so that what runs in one reaches the
 * others only over a network, never through loopback. Needs root.
 *
 * <p>The hosts hang off a bridge that lives in a namespace of its own (the "switch"), so nothing of
 * the machine's own network changes but one veth interface that gives this JVM (the machine's root
 * namespace) an address on the subnet too: the test itself is one more host. Keeping the bridge
 * out of the root namespace also keeps bridged traffic away from the machine's packet filter
 * ({@code bridge-nf-call-iptables}), whose rules a firewall or container runtime may have set.
 *
 * <p>Every name starts with {@code ms-<pid>-}, the pid of the JVM that made it, so parallel runs do
 * not clash and {@link #removeLeftovers()} can tell what a dead run left behind. {@link #close()}
 * kills whatever still runs in the namespaces and removes them; a shutdown hook does the same if
 * the JVM exits first.
 */
final class NetworkHosts implements AutoCloseable {
    private static final Pattern OURS = Pattern.compile("\\bms-(\\d+)-([a-z0-9]+)\\b");
    private static final String SWITCH = "sw";
    private static final String ROOT_LEG = "h";
    private static final long PID = ProcessHandle.current().pid();

    private final String ip;
    private final String subnet;
    private final Map<String, String> addresses = new LinkedHashMap<>();
    private final List<String> namespaces = new ArrayList<>();
    private final Thread cleanupOnExit = new Thread(this::removeQuietly, "network-hosts-cleanup");
    private boolean closed;

    private NetworkHosts(String ip, String subnet) {
        this.ip = ip;
        this.subnet = subnet;
    }

    /**
     * Why namespaces cannot be made here, found by making one (with a veth pair and a bridge, and
     * running a command in it) and removing it; empty if they can.
     */
    static Optional<String> unavailable() {
        Optional<String> ip = ipCommand();
        if (ip.isEmpty()) {
            return Optional.of("no 'ip' command (Debian's iproute2) in /usr/sbin, /sbin or /usr/bin");
        }
        String probe = name("probe");
        try {
            run(ip.get(), "netns", "add", probe);
            try {
                run(ip.get(), "-n", probe, "link", "add", "name", "br0", "type", "bridge");
                run(ip.get(), "-n", probe, "link", "add", "name", "va", "type", "veth", "peer", "name", "vb");
                run(ip.get(), "netns", "exec", probe, ip.get(), "link", "set", "dev", "lo", "up");
            } finally {
                run(ip.get(), "netns", "delete", probe);
            }
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("cannot make network namespaces here (they need root, iproute2 and a kernel with "
                    + "veth and bridge): " + e.getMessage());
        }
    }

    /**
     * Makes {@code hosts} (short names: lower-case letters and digits), each a namespace with an
     * address on a /24 subnet no interface of this machine uses; this JVM gets {@link #rootAddress()}.
     *
     * @throws IOException if an {@code ip} command fails; what was made so far is removed
     */
    static NetworkHosts create(List<String> hosts) throws IOException {
        String ip = ipCommand().orElseThrow(() -> new IOException("no 'ip' command"));
        NetworkHosts net = new NetworkHosts(ip, freeSubnet(ip));
        Runtime.getRuntime().addShutdownHook(net.cleanupOnExit);
        try {
            String sw = net.namespace(SWITCH);
            net.addNamespace(sw);
            run(ip, "-n", sw, "link", "add", "name", "br0", "type", "bridge");
            run(ip, "-n", sw, "link", "set", "dev", "br0", "up");
            // This JVM's leg: a veth from the root namespace into the switch.
            String leg = name(ROOT_LEG);
            run(ip, "link", "add", "name", leg, "type", "veth", "peer", "name", ROOT_LEG, "netns", sw);
            run(ip, "addr", "add", net.subnet + "1/24", "dev", leg);
            run(ip, "link", "set", "dev", leg, "up");
            run(ip, "-n", sw, "link", "set", "dev", ROOT_LEG, "master", "br0", "up");
            int next = 2;
            for (String host : hosts) {
                if (!host.matches("[a-z0-9]{1,6}") || host.equals(SWITCH) || host.equals(ROOT_LEG)
                        || host.equals("probe")) {
                    throw new IllegalArgumentException("host name " + host);
                }
                String ns = net.namespace(host);
                net.addNamespace(ns);
                String address = net.subnet + next++;
                run(ip, "-n", sw, "link", "add", "name", host, "type", "veth", "peer", "name", "eth0", "netns", ns);
                run(ip, "-n", sw, "link", "set", "dev", host, "master", "br0", "up");
                run(ip, "-n", ns, "addr", "add", address + "/24", "dev", "eth0");
                run(ip, "-n", ns, "link", "set", "dev", "eth0", "up");
                run(ip, "-n", ns, "link", "set", "dev", "lo", "up");
                net.addresses.put(host, address);
            }
            return net;
        } catch (IOException | RuntimeException e) {
            net.close();
            throw e;
        }
    }

    /** The address of {@code host} on the subnet. */
    String address(String host) {
        String a = addresses.get(host);
        if (a == null) {
            throw new IllegalArgumentException("no host " + host + " in " + addresses.keySet());
        }
        return a;
    }

    /** This JVM's address on the subnet (the root namespace's). */
    String rootAddress() {
        return subnet + "1";
    }

    /** The command prefix that runs a program in {@code host}: {@code ip netns exec <namespace>}. */
    List<String> exec(String host) {
        address(host);
        return List.of(ip, "netns", "exec", namespace(host));
    }

    /** Kills what still runs in the namespaces, then removes them (and so every interface made). */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupOnExit);
        } catch (IllegalStateException e) {
            // The JVM is exiting: the hook runs this anyway.
        }
        removeQuietly();
    }

    private void removeQuietly() {
        for (int i = namespaces.size() - 1; i >= 0; i--) {
            removeNamespace(ip, namespaces.get(i));
        }
        // Removing the switch removed the veth pair with it; this covers a failed start before that.
        runQuietly(ip, "link", "delete", "dev", name(ROOT_LEG));
    }

    /**
     * Removes the namespaces and interfaces that runs of this class in JVMs no longer alive left
     * behind (a run killed before its clean-up), with what still runs in them.
     */
    static void removeLeftovers() {
        Optional<String> ip = ipCommand();
        if (ip.isEmpty()) {
            return;
        }
        try {
            for (String line : run(ip.get(), "netns", "list").split("\n")) {
                Matcher m = OURS.matcher(line);
                if (m.lookingAt() && deadRun(m.group(1))) {
                    removeNamespace(ip.get(), m.group());
                }
            }
            for (String line : run(ip.get(), "-o", "link", "show").split("\n")) {
                Matcher m = OURS.matcher(line);
                if (m.find() && deadRun(m.group(1))) {
                    runQuietly(ip.get(), "link", "delete", "dev", m.group());
                }
            }
        } catch (IOException e) {
            // Nothing to list, or no right to: nothing of ours to remove either.
        }
    }

    private static boolean deadRun(String pid) {
        long p = Long.parseLong(pid);
        return p != PID && ProcessHandle.of(p).map(h -> !h.isAlive()).orElse(true);
    }

    private void addNamespace(String ns) throws IOException {
        run(ip, "netns", "add", ns);
        namespaces.add(ns);
    }

    /** Kills the processes in {@code ns} (a namespace lives on while one runs there), then deletes it. */
    private static void removeNamespace(String ip, String ns) {
        try {
            for (String pid : run(ip, "netns", "pids", ns).split("\\s+")) {
                if (!pid.isEmpty()) {
                    ProcessHandle.of(Long.parseLong(pid)).ifPresent(h -> {
                        h.destroyForcibly();
                        h.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> h).join();
                    });
                }
            }
        } catch (IOException e) {
            // Gone already, or listing failed: the delete below reports nothing either way.
        }
        runQuietly(ip, "netns", "delete", ns);
    }

    private String namespace(String host) {
        return name(host);
    }

    private static String name(String suffix) {
        // 15 characters at most for an interface name: "ms-" + a pid of up to 7 digits + "-" + 2.
        return "ms-" + PID + "-" + suffix;
    }

    /** A /24 in 10.213.0.0/16 that no address or route of this machine uses yet, chosen from the pid. */
    private static String freeSubnet(String ip) throws IOException {
        String used = run(ip, "-o", "-4", "addr", "show") + run(ip, "-4", "route", "show", "table", "all");
        for (int i = 0; i < 254; i++) {
            String candidate = "10.213." + ((PID + i) % 254 + 1) + ".";
            if (!used.contains(candidate)) {
                return candidate;
            }
        }
        throw new IOException("no free /24 in 10.213.0.0/16");
    }

    private static Optional<String> ipCommand() {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            Path p = Path.of(dir, "ip");
            if (Files.isExecutable(p)) {
                return Optional.of(p.toString());
            }
        }
        return Optional.empty();
    }

    /** Runs a command; its standard output, or an IOException with its error output if it fails. */
    private static String run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", command) + ": no exit within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", command), e);
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " exited with " + p.exitValue() + ": " + out.strip());
        }
        return out;
    }

    private static void runQuietly(String... command) {
        try {
            run(command);
        } catch (IOException e) {
            // Clean-up of something that may be gone already.
        }
    }
}

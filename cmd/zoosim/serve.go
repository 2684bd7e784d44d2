package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"zoosim/real"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "zoosim serve --config zoo.cfg [--log-level info] [--cpuprofile FILE]", `
Run one ensemble member for real: TCP, files with fsync, the wall clock,
ZooKeeper's client protocol on the client port, so that ZooKeeper clients
(go-zookeeper, kazoo, zkCli.sh, Curator) can use it.

The config is ZooKeeper's zoo.cfg (tickTime, initLimit, syncLimit, dataDir,
dataLogDir, clientPort, clientPortAddress, maxClientCnxns, min/maxSessionTimeout,
server.N=host:peerPort:electionPort, extendedTypesEnabled,
4lw.commands.whitelist, snapCount, forceSync, skipACL,
DigestAuthenticationProvider.superDigest, metricsProvider.className/httpPort/
httpHost) plus zoosim.engine (zab, raft), zoosim.quorum (majority, K,
flex:E:C, hier:...) and zoosim.readMode (local, synced, linearizable).
dataDir holds a myid file naming this server; no server.N lines is a
standalone server. Servers talk to each other on the peerPort of their
server.N line (one connection per direction); the electionPort is checked
but not used.

ACLs are enforced as ZooKeeper enforces them (world, auth, digest, ip, and
the super digest). The client port answers the four-letter words of
4lw.commands.whitelist (ruok, srvr, stat, mntr, conf, cons, envi, wchs, wchc,
wchp, dump, isro, dirs, crst, srst) in ZooKeeper's formats, and
metricsProvider.httpPort serves Prometheus metrics on /metrics.

SIGINT or SIGTERM stops the server (and ends --cpuprofile's profile,
written when it stops). Exit status: 0 after a signal, 1 when
the node failed (a disk op or fsync failed), 2 for a bad config.`)
	config := fs.String("config", "", "the zoo.cfg `FILE` (required)")
	level := fs.String("log-level", "info", "the log `LEVEL`: debug, info, warn or error")
	cpuprofile := fs.String("cpuprofile", "", "write a pprof CPU profile of the server to `FILE`, from start until it stops")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, fs, "serve takes no arguments")
	}
	if *config == "" {
		return usageErr(stderr, fs, "--config is required")
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return usageErr(stderr, fs, "--log-level %q: want debug, info, warn or error", *level)
	}
	cfg, err := real.ReadConfig(*config)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return inputErr(stderr, fs, err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return inputErr(stderr, fs, err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintf(stderr, "zoosim serve: --cpuprofile: %v\n", err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := real.Serve(ctx, cfg, log); err != nil {
		var ce *real.ConfigError
		if errors.As(err, &ce) {
			return inputErr(stderr, fs, err)
		}
		fmt.Fprintf(stderr, "zoosim serve: %v\n", err)
		return 1
	}
	return exitOK
}

func cmdEnsemble(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("ensemble", "zoosim ensemble --servers 3 --dir D [flags]", `
Write the configs of a local ensemble under D (D/N/zoo.cfg, D/N/data/myid,
on loopback ports chosen free now), start one "zoosim serve" process per
server (logs in D/N/server.log), print the connect string, and run until
Ctrl-C (SIGINT or SIGTERM), which stops them all; they also die with this
process. Data in D/N/data is kept from one run to the next.`)
	servers := fs.Int("servers", 3, "`N` servers (1..63)")
	dir := fs.String("dir", "", "the ensemble's `DIR` (required)")
	tick := fs.Duration("tick", 200*time.Millisecond, "tickTime")
	var extra stringList
	fs.Var(&extra, "set", "a `KEY=VALUE` line added to every zoo.cfg (repeatable), e.g. --set zoosim.readMode=synced")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, fs, "ensemble takes no arguments")
	}
	if *dir == "" {
		return usageErr(stderr, fs, "--dir is required")
	}
	if *servers < 1 || *servers > 63 {
		return usageErr(stderr, fs, "--servers %d: want 1..63", *servers)
	}
	if *tick < time.Millisecond {
		return usageErr(stderr, fs, "--tick %v: want at least 1ms", *tick)
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "zoosim ensemble: %v\n", err)
		return 1
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	e, err := real.WriteLocalEnsemble(abs, *servers, real.LocalOptions{Binary: bin, TickTimeMs: int(*tick / time.Millisecond), Extra: extra})
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	// A bad --set line is a config error: check the first config before
	// starting anything.
	if _, err := real.ReadConfig(e.Servers[0].Config); err != nil {
		return inputErr(stderr, fs, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := e.Start(); err != nil {
		e.Stop(5 * time.Second)
		fmt.Fprintf(stderr, "zoosim ensemble: %v\n", err)
		return 1
	}
	defer e.Stop(5 * time.Second)
	fmt.Fprintf(stdout, "zoosim ensemble: %d servers under %s (logs: %s)\n", *servers, abs, filepath.Join(abs, "N", "server.log"))
	fmt.Fprintf(stdout, "connect string: %s\n", e.ConnectString())
	fmt.Fprintln(stdout, "Ctrl-C stops the ensemble.")
	for _, s := range e.Servers {
		go func() {
			<-s.Exited()
			if ctx.Err() == nil {
				fmt.Fprintf(stderr, "zoosim ensemble: server %d exited (%v); see %s\n", s.ID, s.ExitErr(), s.Log)
			}
		}()
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "zoosim ensemble: stopping")
	return exitOK
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	if !strings.Contains(v, "=") {
		return errors.New("want KEY=VALUE")
	}
	*l = append(*l, v)
	return nil
}

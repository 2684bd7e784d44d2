package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// This file drives a real headless Chromium over the DevTools protocol on
// a pipe (--remote-debugging-pipe: JSON messages separated by NUL bytes on
// file descriptors 3 and 4), with the standard library only.

// chromiumPath finds Chromium: $ZOOSIM_CHROMIUM, else the usual names.
func chromiumPath() string {
	if p := os.Getenv("ZOOSIM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// cdpMessage is a DevTools protocol message: a command, its reply or an
// event.
type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// browser is one headless Chromium process.
type browser struct {
	cmd    *exec.Cmd
	toChr  *os.File
	stderr bytes.Buffer

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpMessage
	events  chan cdpMessage
	done    chan struct{}
}

func startBrowser(t *testing.T, path string) *browser {
	t.Helper()
	profile := t.TempDir()
	// Chromium reads commands on fd 3 and writes on fd 4.
	cmdR, cmdW, err := os.Pipe()
	require.NoError(t, err)
	outR, outW, err := os.Pipe()
	require.NoError(t, err)
	b := &browser{toChr: cmdW, waiting: map[int]chan cdpMessage{}, events: make(chan cdpMessage, 4096), done: make(chan struct{})}
	b.cmd = exec.Command(path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--hide-scrollbars", "--mute-audio", "--user-data-dir="+profile, "--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{cmdR, outW}
	b.cmd.Stderr = &b.stderr
	require.NoError(t, b.cmd.Start())
	cmdR.Close()
	outW.Close()
	go b.read(outR)
	t.Cleanup(func() {
		cmdW.Close()
		if b.cmd.Process != nil {
			b.cmd.Process.Kill()
		}
		b.cmd.Wait()
	})
	return b
}

func (b *browser) read(r io.ReadCloser) {
	defer close(b.done)
	defer r.Close()
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case b.events <- m:
		default: // a flood of events we do not read: drop
		}
	}
}

// call sends a command (to a session, or to the browser when session is
// "") and waits for its reply.
func (b *browser) call(session, method string, params any, out any) error {
	if params == nil {
		params = struct{}{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg, _ := json.Marshal(cdpMessage{ID: id, SessionID: session, Method: method, Params: p})
	if _, err := b.toChr.Write(append(msg, 0)); err != nil {
		return fmt.Errorf("%s: %w (chromium: %s)", method, err, b.stderr.String())
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-b.done:
		return fmt.Errorf("%s: chromium exited (%s)", method, b.stderr.String())
	case <-time.After(60 * time.Second):
		return fmt.Errorf("%s: no reply in 60s", method)
	}
}

// pageProblems are what a rendered page must not have.
type pageProblems struct {
	console  []string // console errors, uncaught exceptions, log errors
	requests []string // anything fetched but the page itself and inline data
}

// view is one way of looking at a page.
type view struct {
	name          string
	width, height int
	print         bool
}

// render opens url in a new tab with the view's window size (and print
// media), waits for the load, and returns a full-page screenshot, facts
// about the page and what went wrong.
func (b *browser) render(url string, v view) (shot []byte, facts map[string]float64, probs pageProblems, err error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err = b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return
	}
	defer b.call("", "Target.closeTarget", map[string]any{"targetId": target.TargetID}, nil)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err = b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		return
	}
	s := att.SessionID
	for len(b.events) > 0 { // events of earlier pages
		<-b.events
	}
	enable := func(session string) error {
		for _, m := range []string{"Runtime.enable", "Log.enable", "Network.enable", "Page.enable"} {
			if err := b.call(session, m, nil, nil); err != nil && session == s {
				return err
			}
		}
		return b.call(session, "Target.setAutoAttach", map[string]any{"autoAttach": true, "waitForDebuggerOnStart": false, "flatten": true}, nil)
	}
	if err = enable(s); err != nil {
		return
	}
	if err = b.call(s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": v.width, "height": v.height,
		"deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		return
	}
	if v.print {
		if err = b.call(s, "Emulation.setEmulatedMedia", map[string]any{"media": "print"}, nil); err != nil {
			return
		}
	}
	if err = b.call(s, "Page.navigate", map[string]any{"url": url}, nil); err != nil {
		return
	}
	deadline := time.After(60 * time.Second)
	loaded := false
	collect := func(m cdpMessage) {
		switch m.Method {
		case "Target.attachedToTarget": // a frame in its own process (porcupine's sandboxed iframe)
			var p struct {
				SessionID string `json:"sessionId"`
			}
			if json.Unmarshal(m.Params, &p) == nil {
				go func() {
					enable(p.SessionID)
					b.call(p.SessionID, "Runtime.runIfWaitingForDebugger", nil, nil)
				}()
			}
		case "Runtime.exceptionThrown":
			probs.console = append(probs.console, "exception: "+clipText(string(m.Params), 400))
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(m.Params, &p) == nil && (p.Type == "error" || p.Type == "assert") {
				probs.console = append(probs.console, "console."+p.Type+": "+clipText(string(m.Params), 400))
			}
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level, Text, URL string
				} `json:"entry"`
			}
			if json.Unmarshal(m.Params, &p) == nil && p.Entry.Level == "error" {
				probs.console = append(probs.console, "log: "+p.Entry.Text+" "+p.Entry.URL)
			}
		case "Network.requestWillBeSent":
			var p struct {
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
			}
			if json.Unmarshal(m.Params, &p) == nil && p.Request.URL != url && !strings.HasPrefix(p.Request.URL, "data:") &&
				!strings.HasPrefix(p.Request.URL, "about:") {
				probs.requests = append(probs.requests, p.Request.URL)
			}
		case "Page.loadEventFired":
			if m.SessionID == s {
				loaded = true
			}
		}
	}
	for !loaded {
		select {
		case m := <-b.events:
			collect(m)
		case <-deadline:
			err = errors.New("the page did not finish loading in 60s")
			return
		}
	}
	// Let scripts of frames run, then read what they said.
	settle := time.After(700 * time.Millisecond)
	for waiting := true; waiting; {
		select {
		case m := <-b.events:
			collect(m)
		case <-settle:
			waiting = false
		}
	}
	facts = map[string]float64{}
	for name, expr := range map[string]string{
		"text":     "document.body.innerText.trim().length",
		"svgs":     "document.querySelectorAll('svg').length",
		"overflow": "document.documentElement.scrollWidth - window.innerWidth",
		"height":   "document.documentElement.scrollHeight",
		"iframes":  "document.querySelectorAll('iframe').length",
	} {
		var r struct {
			Result struct {
				Value float64 `json:"value"`
			} `json:"result"`
		}
		if err = b.call(s, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
			return
		}
		facts[name] = r.Result.Value
	}
	// A full-page screenshot: the window grows to the page's height, so
	// that frames below the fold are painted too.
	h := max(min(int(facts["height"]), 12000), v.height)
	if err = b.call(s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": v.width, "height": h,
		"deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		return
	}
	time.Sleep(400 * time.Millisecond)
	var cap struct {
		Data string `json:"data"`
	}
	if err = b.call(s, "Page.captureScreenshot", map[string]any{"format": "png"}, &cap); err != nil {
		return
	}
	shot, err = base64.StdEncoding.DecodeString(cap.Data)
	return
}

// inkShare is the share of a screenshot's pixels that are not the
// background (the top-left pixel's colour), sampled on a grid.
func inkShare(shot []byte) (float64, error) {
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		return 0, err
	}
	bounds := img.Bounds()
	bg := img.At(bounds.Min.X, bounds.Min.Y)
	br, bgG, bb, _ := bg.RGBA()
	ink, total := 0, 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 3 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 3 {
			r, g, b2, _ := img.At(x, y).RGBA()
			total++
			if diff(r, br)+diff(g, bgG)+diff(b2, bb) > 3*2048 {
				ink++
			}
		}
	}
	return float64(ink) / float64(max(total, 1)), nil
}

func diff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// screenshotDir is where the screenshots go: $ZOOSIM_SCREENSHOTS (make
// report-check keeps them for people to look at), else a test directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("ZOOSIM_SCREENSHOTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		abs, err := filepath.Abs(d)
		require.NoError(t, err)
		return abs
	}
	return t.TempDir()
}

// reportCase is one kind of report and the command lines that write it
// (the last one writes the report to path; the others write files in dir).
type reportCase struct {
	name string
	cmds func(dir, path string) [][]string
	// want is text the page must show.
	want []string
}

func reportCases() []reportCase {
	one := func(args ...string) func(dir, path string) [][]string {
		return func(dir, path string) [][]string { return [][]string{append(args, "--html", path)} }
	}
	return []reportCase{
		{"run-violation", one("run", "--scenario", "partition-majority", "--seed", "1", "--bug", "commit-one-ack-short"),
			[]string{"linearizable", "repro", "porcupine"}},
		{"run-ok", one("run", "--scenario", "standard", "--seed", "2", "--duration", "20s"), []string{"leader", "server 5"}},
		{"suite", one("suite", "--suite", "unsafe", "--seeds", "4", "--quiet"), []string{"Failures (", "Failures replayed", "repro"}},
		{"report-merged", func(dir, path string) [][]string {
			var cmds [][]string
			for i := 1; i <= 3; i++ {
				cmds = append(cmds, []string{"suite", "--suite", "smoke", "--seeds", "1", "--bug", "keep-ephemerals", "--quiet",
					"--shard", fmt.Sprintf("%d/3", i), "--json", ">", filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))})
			}
			return append(cmds, []string{"report", "--quiet", "--html", path, filepath.Join(dir, "shard-1.json"),
				filepath.Join(dir, "shard-2.json"), filepath.Join(dir, "shard-3.json")})
		}, []string{"merged from", "sessions"}},
		{"bugs", one("bugs", "--measure", "--suite", "smoke", "--seeds", "1", "--bug", "keep-ephemerals,multi-partial", "--quiet"),
			[]string{"Detection rates", "keep-ephemerals", "never detected"}},
		{"quorum", one("quorum", "--servers", "3,4,5", "--quorum", "majority,2", "--seeds", "6", "--probe-seeds", "1",
			"--duration", "10s", "--quiet"), []string{"Crash tolerance", "lost acknowledged writes", "p99"}},
	}
}

// runCommands runs each command line in process; "> FILE" at the end of a
// line sends its stdout there.
func runCommands(t *testing.T, cmds [][]string) {
	t.Helper()
	for _, args := range cmds {
		var out, errb bytes.Buffer
		outPath := ""
		if n := len(args); n >= 2 && args[n-2] == ">" {
			args, outPath = args[:n-2], args[n-1]
		}
		code := run(args, &out, &errb)
		require.LessOrEqual(t, code, exitViolation, "%v\n%s\n%s", args, out.String(), errb.String())
		if outPath != "" {
			require.NoError(t, os.WriteFile(outPath, out.Bytes(), 0o644))
		}
	}
}

// TestReports_RenderInARealBrowser writes every kind of report, opens each
// in headless Chromium at a desktop width, at a phone's width and as
// printed, takes a full-page screenshot of each, and fails on a blank page,
// a console error, an uncaught exception, any network request, or (at the
// phone's width) a page wider than the window. It runs with
// ZOOSIM_BROWSER=1; set ZOOSIM_SCREENSHOTS=DIR to keep the screenshots
// (make report-check does both).
func TestReports_RenderInARealBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the browser test renders every report in Chromium")
	}
	path := chromiumPath()
	if path == "" {
		t.Skip("Chromium not found (set ZOOSIM_CHROMIUM, or run make report-check, which installs Debian's chromium): reports not rendered")
	}
	if os.Getenv("ZOOSIM_BROWSER") != "1" {
		t.Skip("Chromium found, but the reports are rendered only with ZOOSIM_BROWSER=1 (make report-check): it takes half a minute")
	}
	dir := t.TempDir()
	shots := screenshotDir(t)
	b := startBrowser(t, path)
	views := []view{{"desktop", 1280, 900, false}, {"narrow", 390, 844, false}, {"print", 794, 1123, true}}
	for _, rc := range reportCases() {
		t.Run(rc.name, func(t *testing.T) {
			file := filepath.Join(dir, rc.name+".html")
			runCommands(t, rc.cmds(dir, file))
			page, err := os.ReadFile(file)
			require.NoError(t, err)
			for _, w := range rc.want {
				require.Contains(t, string(page), w)
			}
			for _, v := range views {
				shot, facts, probs, err := b.render("file://"+file, v)
				require.NoError(t, err, "%s %s", rc.name, v.name)
				png := filepath.Join(shots, rc.name+"-"+v.name+".png")
				require.NoError(t, os.WriteFile(png, shot, 0o644))
				t.Logf("%s %s: %s (%v)", rc.name, v.name, png, facts)
				require.Empty(t, probs.console, "%s %s: console errors", rc.name, v.name)
				require.Empty(t, probs.requests, "%s %s: the page fetched something: it must be self-contained", rc.name, v.name)
				require.Greater(t, facts["text"], 200.0, "%s %s: the page shows almost no text", rc.name, v.name)
				require.Positive(t, facts["svgs"], "%s %s: no picture", rc.name, v.name)
				ink, err := inkShare(shot)
				require.NoError(t, err)
				require.Greater(t, ink, 0.01, "%s %s: the screenshot is blank", rc.name, v.name)
				if v.name == "narrow" {
					require.LessOrEqual(t, facts["overflow"], 0.0, "%s: the page is wider than a narrow window (wide parts must scroll in their box)", rc.name)
				}
			}
		})
	}
}

// TestBrowser_CatchesWhatABadPageDoes: the checks of the browser test can
// fail. A page that logs an error, throws, and loads a picture from the
// network is caught, and a blank page has no ink.
func TestBrowser_CatchesWhatABadPageDoes(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Chromium")
	}
	path := chromiumPath()
	if path == "" {
		t.Skip("Chromium not found (set ZOOSIM_CHROMIUM, or run make report-check, which installs Debian's chromium)")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.html")
	require.NoError(t, os.WriteFile(bad, []byte(`<!DOCTYPE html><html><body><p>bad</p>
<script>console.error("boom"); null.x;</script><img src="http://127.0.0.1:9/x.png">
<iframe sandbox="allow-scripts" srcdoc="&lt;script&gt;console.error('in the frame')&lt;/script&gt;"></iframe></body></html>`), 0o644))
	blank := filepath.Join(dir, "blank.html")
	require.NoError(t, os.WriteFile(blank, []byte(`<!DOCTYPE html><html><body></body></html>`), 0o644))
	b := startBrowser(t, path)
	_, _, probs, err := b.render("file://"+bad, view{"desktop", 800, 600, false})
	require.NoError(t, err)
	require.NotEmpty(t, probs.console, "console.error and the exception went unseen")
	require.Contains(t, strings.Join(probs.console, "\n"), "boom")
	require.Contains(t, strings.Join(probs.console, "\n"), "in the frame", "errors inside a sandboxed frame (porcupine's) went unseen")
	require.Contains(t, probs.requests, "http://127.0.0.1:9/x.png")
	shot, facts, probs, err := b.render("file://"+blank, view{"desktop", 800, 600, false})
	require.NoError(t, err)
	require.Empty(t, probs.console)
	require.Zero(t, facts["text"])
	ink, err := inkShare(shot)
	require.NoError(t, err)
	require.Less(t, ink, 0.01)
}

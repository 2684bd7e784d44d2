package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The deploy tests read the manifests under deploy/ and run the zoosim
// command lines in them, exactly as written but with few seeds and short
// runs (--seeds 2 --duration 3s appended: the last value of a flag wins),
// in process: every shard command of the batch runner, then its merge and
// report step, and check that the merged result equals the unsharded run.

const deployDir = "../../deploy"

// smallSweep is what the tests append to a shard command so that the whole
// nightly sweep runs in about a second.
var smallSweep = []string{"--seeds", "2", "--duration", "3s", "--quiet"}

type k8sContainer struct {
	Name         string   `yaml:"name"`
	Image        string   `yaml:"image"`
	Command      []string `yaml:"command"`
	Args         []string `yaml:"args"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		// Job
		CompletionMode string `yaml:"completionMode"`
		Completions    int    `yaml:"completions"`
		Parallelism    int    `yaml:"parallelism"`
		Template       struct {
			Spec struct {
				RestartPolicy string         `yaml:"restartPolicy"`
				Containers    []k8sContainer `yaml:"containers"`
				Volumes       []struct {
					Name                  string `yaml:"name"`
					PersistentVolumeClaim struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		// PersistentVolumeClaim
		AccessModes []string `yaml:"accessModes"`
	} `yaml:"spec"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(false)
	require.NoError(t, dec.Decode(v), path)
}

// zoosimLines are the zoosim command lines of a shell script, each as the
// words after "zoosim", cut before a redirection or a || / &&, with subst
// applied to the line first. out is the file each line's stdout goes to
// ("" if none).
func zoosimLines(t *testing.T, script string, subst func(string) string) (lines [][]string, out []string) {
	t.Helper()
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(subst(line))
		if !strings.HasPrefix(line, "zoosim ") && !strings.HasPrefix(line, "./zoosim ") {
			continue
		}
		words, err := splitWords(line)
		require.NoError(t, err, line)
		args, redirect := []string{}, ""
		for i := 1; i < len(words); i++ {
			w := words[i]
			if w == "||" || w == "&&" || w == ";" {
				break
			}
			if w == ">" && i+1 < len(words) {
				redirect = words[i+1]
				break
			}
			args = append(args, w)
		}
		lines = append(lines, args)
		out = append(out, redirect)
	}
	return lines, out
}

// expandGlobs replaces each argument with a * by the files it matches.
func expandGlobs(t *testing.T, args []string) []string {
	t.Helper()
	var out []string
	for _, a := range args {
		if !strings.Contains(a, "*") {
			out = append(out, a)
			continue
		}
		m, err := filepath.Glob(a)
		require.NoError(t, err)
		require.NotEmpty(t, m, "%s matches nothing", a)
		out = append(out, m...)
	}
	return out
}

// runLine runs one command line in process, its stdout to outPath if set;
// it must exit with a status the manifests allow (0, or 1 for findings).
func runLine(t *testing.T, args []string, outPath string) int {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	require.LessOrEqual(t, code, exitViolation, "zoosim %s\n%s", strings.Join(args, " "), stderr.String())
	if outPath != "" {
		require.NoError(t, os.WriteFile(outPath, stdout.Bytes(), 0o644))
	}
	return code
}

var shardFlag = regexp.MustCompile(`--shard (\S+)/(\d+)`)

// checkMergedEqualsUnsharded runs the unsharded sweep that shardArgs (with
// its --shard removed) describes and checks that merged holds exactly its
// runs, verdicts and trace hashes, counts, failures and harness errors.
func checkMergedEqualsUnsharded(t *testing.T, shardArgs []string, mergedPath string) {
	t.Helper()
	var whole []string
	for i := 0; i < len(shardArgs); i++ {
		if shardArgs[i] == "--shard" {
			i++
			continue
		}
		whole = append(whole, shardArgs[i])
	}
	dir := t.TempDir()
	unshardedPath := filepath.Join(dir, "unsharded.json")
	runLine(t, whole, unshardedPath)
	var merged, unsharded suiteResultJSON
	b, err := os.ReadFile(mergedPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &merged))
	b, err = os.ReadFile(unshardedPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &unsharded))
	require.NotEmpty(t, unsharded.Results)
	assert.Equal(t, unsharded.Results, merged.Results, "runs, engines, verdicts and trace hashes")
	assert.Equal(t, [5]int{unsharded.Runs, unsharded.OK, unsharded.Violations, unsharded.Inconclusive, unsharded.Errors},
		[5]int{merged.Runs, merged.OK, merged.Violations, merged.Inconclusive, merged.Errors})
	assert.Equal(t, unsharded.Failures, merged.Failures)
	assert.Equal(t, unsharded.HarnessErrors, merged.HarnessErrors)
	assert.Equal(t, "1/1", merged.Shard)
}

// TestDeploy_KubernetesIndexedJob: the Indexed Job runs zoosim suite
// --shard $((JOB_COMPLETION_INDEX+1))/N --json in N pods writing to the
// results volume, the report job merges and reports them, and running those
// exact command lines here gives the unsharded sweep's result.
func TestDeploy_KubernetesIndexedJob(t *testing.T) {
	var pvc, job, report k8sObject
	readYAML(t, filepath.Join(deployDir, "kubernetes", "results-pvc.yaml"), &pvc)
	readYAML(t, filepath.Join(deployDir, "kubernetes", "nightly-job.yaml"), &job)
	readYAML(t, filepath.Join(deployDir, "kubernetes", "report-job.yaml"), &report)
	require.Equal(t, "PersistentVolumeClaim", pvc.Kind)
	require.Contains(t, pvc.Spec.AccessModes, "ReadWriteMany", "shards on different nodes write to the one volume")
	for _, j := range []k8sObject{job, report} {
		require.Equal(t, "batch/v1", j.APIVersion)
		require.Equal(t, "Job", j.Kind)
		require.Equal(t, "Never", j.Spec.Template.Spec.RestartPolicy)
		require.Len(t, j.Spec.Template.Spec.Containers, 1)
		c := j.Spec.Template.Spec.Containers[0]
		require.Equal(t, []string{"/bin/sh", "-c"}, c.Command)
		require.Len(t, c.Args, 1)
		require.Len(t, c.VolumeMounts, 1)
		require.Equal(t, "/results", c.VolumeMounts[0].MountPath)
		require.Len(t, j.Spec.Template.Spec.Volumes, 1)
		require.Equal(t, pvc.Metadata.Name, j.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName)
		checkShellSyntax(t, c.Args[0])
	}
	require.Equal(t, "Indexed", job.Spec.CompletionMode)
	n := job.Spec.Completions
	require.GreaterOrEqual(t, n, 2)
	require.Equal(t, n, job.Spec.Parallelism)
	script := job.Spec.Template.Spec.Containers[0].Args[0]
	m := shardFlag.FindStringSubmatch(script)
	require.NotNil(t, m, "no --shard in the job's command")
	require.Equal(t, "$((JOB_COMPLETION_INDEX+1))", m[1])
	require.Equal(t, strconv.Itoa(n), m[2], "--shard I/N must name the job's completions")
	require.Contains(t, script, "zoosim suite --suite nightly --shard $((JOB_COMPLETION_INDEX+1))/"+strconv.Itoa(n)+" --json")
	require.Contains(t, script, "/results/shard-$((JOB_COMPLETION_INDEX+1)).json")

	dir := t.TempDir()
	var shardArgs []string
	for index := range n {
		i := strconv.Itoa(index + 1)
		lines, _ := zoosimLines(t, script, func(s string) string {
			return strings.ReplaceAll(s, "$((JOB_COMPLETION_INDEX+1))", i)
		})
		require.Len(t, lines, 1, "one zoosim command per pod")
		shardArgs = append(lines[0], smallSweep...)
		runLine(t, shardArgs, filepath.Join(dir, "shard-"+i+".json"))
	}
	lines, outs := zoosimLines(t, report.Spec.Template.Spec.Containers[0].Args[0], func(s string) string {
		return strings.ReplaceAll(s, "/results/", dir+"/")
	})
	require.Len(t, lines, 2)
	require.Equal(t, "report", lines[0][0])
	require.Equal(t, "merge", lines[1][0])
	for i, args := range lines {
		runLine(t, expandGlobs(t, args), outs[i])
	}
	page, err := os.ReadFile(filepath.Join(dir, "nightly.html"))
	require.NoError(t, err)
	require.Contains(t, string(page), "merged from")
	checkMergedEqualsUnsharded(t, shardArgs, filepath.Join(dir, "nightly.json"))
}

type ghWorkflow struct {
	Jobs map[string]struct {
		Needs    any `yaml:"needs"`
		Strategy struct {
			FailFast *bool `yaml:"fail-fast"`
			Matrix   struct {
				Shard []int `yaml:"shard"`
			} `yaml:"matrix"`
		} `yaml:"strategy"`
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// TestDeploy_GitHubActionsMatrix: a matrix job per shard uploads its JSON
// as an artifact, the report job downloads them all and merges and
// reports; the same command lines run here give the unsharded result.
func TestDeploy_GitHubActionsMatrix(t *testing.T) {
	var wf ghWorkflow
	readYAML(t, filepath.Join(deployDir, "github-actions", "zoosim-nightly.yml"), &wf)
	shard, ok := wf.Jobs["shard"]
	require.True(t, ok, "no shard job")
	rep, ok := wf.Jobs["report"]
	require.True(t, ok, "no report job")
	require.Equal(t, "shard", rep.Needs)
	require.NotNil(t, shard.Strategy.FailFast)
	require.False(t, *shard.Strategy.FailFast, "one shard's findings must not cancel the others")
	n := len(shard.Strategy.Matrix.Shard)
	require.GreaterOrEqual(t, n, 2)
	for i, s := range shard.Strategy.Matrix.Shard {
		require.Equal(t, i+1, s, "the matrix lists shards 1..N")
	}
	var script, upload string
	for _, st := range shard.Steps {
		if strings.Contains(st.Run, "zoosim suite") {
			script = st.Run
		}
		if strings.HasPrefix(st.Uses, "actions/upload-artifact@") {
			upload = st.With["path"]
		}
	}
	require.Contains(t, script, "--shard ${{ matrix.shard }}/"+strconv.Itoa(n)+" --json", "--shard I/N must name the matrix's size")
	require.Equal(t, "shard-${{ matrix.shard }}.json", upload)
	var download map[string]string
	var reportScript string
	for _, st := range rep.Steps {
		if strings.HasPrefix(st.Uses, "actions/download-artifact@") {
			download = st.With
		}
		if strings.Contains(st.Run, "zoosim merge") {
			reportScript = st.Run
		}
	}
	require.Equal(t, "shard-*", download["pattern"])
	require.Equal(t, "true", download["merge-multiple"])
	checkShellSyntax(t, script)
	checkShellSyntax(t, reportScript)

	dir := t.TempDir()
	shards := filepath.Join(dir, download["path"])
	require.NoError(t, os.MkdirAll(shards, 0o755))
	var shardArgs []string
	for _, s := range shard.Strategy.Matrix.Shard {
		lines, outs := zoosimLines(t, script, func(l string) string {
			return strings.ReplaceAll(l, "${{ matrix.shard }}", strconv.Itoa(s))
		})
		require.Len(t, lines, 1)
		require.Equal(t, "shard-"+strconv.Itoa(s)+".json", outs[0])
		shardArgs = append(lines[0], smallSweep...)
		// The artifact lands in the report job's download path.
		runLine(t, shardArgs, filepath.Join(shards, outs[0]))
	}
	lines, outs := zoosimLines(t, reportScript, func(l string) string {
		return strings.ReplaceAll(strings.ReplaceAll(l, download["path"]+"/", shards+"/"), "nightly.", dir+"/nightly.")
	})
	require.Len(t, lines, 2)
	for i, args := range lines {
		runLine(t, expandGlobs(t, args), outs[i])
	}
	_, err := os.Stat(filepath.Join(dir, "nightly.html"))
	require.NoError(t, err)
	checkMergedEqualsUnsharded(t, shardArgs, filepath.Join(dir, "nightly.json"))
}

// TestDeploy_DockerfileBuildsTheStaticBinary: no Docker engine runs here,
// so the Dockerfile's build command is checked, and with
// ZOOSIM_DEPLOY_BUILD=1 (make deploy-check) run as written (minus the
// output path) and the binary checked to be static. The build is not part
// of every test run: its flags (-trimpath) rebuild every dependency.
func TestDeploy_DockerfileBuildsTheStaticBinary(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	require.NoError(t, err)
	df := string(b)
	re := regexp.MustCompile(`RUN (CGO_ENABLED=0 go build [^\\\n]*) -o /out/zoosim (\./cmd/zoosim)`)
	m := re.FindStringSubmatch(df)
	require.NotNil(t, m, "the Dockerfile builds ./cmd/zoosim with CGO off")
	require.Contains(t, df, "COPY --from=build /out/zoosim /usr/local/bin/zoosim")
	require.Contains(t, df, `ENTRYPOINT ["zoosim"]`)
	if os.Getenv("ZOOSIM_DEPLOY_BUILD") != "1" {
		t.Skip("set ZOOSIM_DEPLOY_BUILD=1 (make deploy-check) to build the binary as the Dockerfile does")
	}
	words, err := splitWords(m[1])
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "zoosim")
	cmd := exec.Command("go", append(words[2:], "-o", out, m[2])...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, string(msg))
	if file, err := exec.LookPath("file"); err == nil {
		desc, err := exec.Command(file, out).CombinedOutput()
		require.NoError(t, err)
		assert.True(t, slices.ContainsFunc([]string{"statically linked", "static-pie linked"}, func(s string) bool {
			return strings.Contains(string(desc), s)
		}), "not a static binary: %s", desc)
	}
	version, err := exec.Command(out, "version").CombinedOutput()
	require.NoError(t, err, string(version))
	require.Contains(t, string(version), "zoosim")
}

// checkShellSyntax parses a script with sh -n (nothing runs).
func checkShellSyntax(t *testing.T, script string) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		return
	}
	// GitHub expressions are not shell: make them words.
	script = regexp.MustCompile(`\$\{\{[^}]*\}\}`).ReplaceAllString(script, "X")
	cmd := exec.Command(sh, "-n")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "sh -n: %s\n%s", out, script)
}

func TestDeploy_RunScriptParses(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "run.sh"))
	require.NoError(t, err)
	checkShellSyntax(t, string(b))
	for _, f := range []string{"results-pvc.yaml", "nightly-job.yaml", "report-job.yaml"} {
		require.Contains(t, string(b), f)
	}
}

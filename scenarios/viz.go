package scenarios

import (
	"fmt"
	"path/filepath"
)

// VisualizationPath is where a run of scenario for seed writes porcupine's
// visualization of a failing linearizability check, given
// Options.VisualizeDir dir.
func VisualizationPath(dir, scenario string, seed uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%d.html", scenario, seed))
}

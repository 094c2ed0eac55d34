package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// inputPairs collects repeated `--input SRC=DST` flags.
type inputPairs []copyPair

type copyPair struct{ source, destination string }

func (p *inputPairs) String() string { return fmt.Sprint(*p) }

func (p *inputPairs) Set(value string) error {
	for i := 0; i < len(value); i++ {
		if value[i] == '=' {
			source, destination := value[:i], value[i+1:]
			if !filepath.IsAbs(source) || !filepath.IsAbs(destination) {
				return fmt.Errorf("--input %q: both paths must be absolute", value)
			}
			*p = append(*p, copyPair{filepath.Clean(source), filepath.Clean(destination)})
			return nil
		}
	}
	return fmt.Errorf("--input %q: expected SOURCE=DESTINATION", value)
}

// runCopy is the init container's command: install the helper into the shared emptyDir (the task image
// may have nothing to run it with), prepare the process directory, then copy the step's inputs.
func runCopy(args []string) error {
	flags := flag.NewFlagSet("copy", flag.ContinueOnError)
	to := flags.String("to", "", "where to install the helper binary (…/bin/jetbridge-helper)")
	parallel := flags.Int("parallel", 8, "files copied at once")
	var inputs inputPairs
	flags.Var(&inputs, "input", "SOURCE=DESTINATION directory to copy (repeatable)")
	var directories absolutePaths
	flags.Var(&directories, "mkdir", "an empty directory the step can write into (repeatable)")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *to == "" || !filepath.IsAbs(*to) {
		return usageError{"copy needs an absolute --to"}
	}
	if err := installHelper(*to); err != nil {
		return err
	}
	for _, directory := range directories {
		if err := makeWritableDirectory(directory); err != nil {
			return err
		}
	}
	return copyInputsAndReport(inputs, *parallel)
}

// absolutePaths collects repeated flags naming absolute paths.
type absolutePaths []string

func (p *absolutePaths) String() string { return fmt.Sprint(*p) }

func (p *absolutePaths) Set(value string) error {
	if !filepath.IsAbs(value) {
		return fmt.Errorf("%q: the path must be absolute", value)
	}
	*p = append(*p, filepath.Clean(value))
	return nil
}

// makeWritableDirectory creates a directory (stream mode: an empty output, no transfer needed) and whatever
// parents it lacks, all world-writable: this init container runs as root, the step as whichever user its
// image says (an output directory on the claim is made 0777 for the same reason).
func makeWritableDirectory(directory string) error {
	var missing []string
	for current := directory; ; current = filepath.Dir(current) {
		if _, err := os.Lstat(current); err == nil {
			break
		}
		missing = append(missing, current)
		if current == filepath.Dir(current) {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o777); err != nil && !os.IsExist(err) {
			return err
		}
		if err := os.Chmod(missing[i], 0o777); err != nil {
			return err
		}
	}
	return nil
}

func runCopyInputs(args []string) error {
	flags := flag.NewFlagSet("copy-inputs", flag.ContinueOnError)
	parallel := flags.Int("parallel", 8, "files copied at once")
	var inputs inputPairs
	flags.Var(&inputs, "input", "SOURCE=DESTINATION directory to copy (repeatable)")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	return copyInputsAndReport(inputs, *parallel)
}

// copyInputsAndReport prints one JSON line JetBridge reads back from the container log for its metrics.
func copyInputsAndReport(inputs inputPairs, parallel int) error {
	started := time.Now()
	stats, err := copyTrees(inputs, parallel)
	if err != nil {
		return err
	}
	report, _ := json.Marshal(map[string]any{
		"jetbridgeCopyInputs": map[string]any{
			"inputs":     len(inputs),
			"files":      stats.files,
			"bytes":      stats.bytes,
			"durationMs": time.Since(started).Milliseconds(),
		},
	})
	fmt.Println(string(report))
	return nil
}

// installHelper is what every init container does first: install the helper at `to` (…/bin/jetbridge-helper in
// the shared emptyDir) and create the process directory next to its bin directory.
func installHelper(to string) error {
	if err := installSelf(to); err != nil {
		return err
	}
	// Sticky and world-writable: the step's user (unknown here) creates its process directories in it.
	procs := filepath.Join(filepath.Dir(filepath.Dir(to)), "procs")
	if err := os.MkdirAll(procs, 0o755); err != nil {
		return err
	}
	return os.Chmod(procs, os.ModeSticky|0o777)
}

func installSelf(to string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	source, err := os.Open(self)
	if err != nil {
		return err
	}
	defer source.Close()
	tmp := to + ".tmp"
	target, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(target, source); err != nil {
		target.Close()
		return err
	}
	if err := target.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, to)
}

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

type processState struct {
	ID          string      `json:"id"`
	Pid         int         `json:"pid,omitempty"`
	Running     bool        `json:"running"`
	Exit        *exitStatus `json:"exit,omitempty"`
	Lost        bool        `json:"lost,omitempty"`
	StdoutBytes int64       `json:"stdoutBytes"`
	StderrBytes int64       `json:"stderrBytes"`
}

func stateOf(id, dir string) processState {
	state := processState{ID: id}
	state.Pid, _ = readPidFile(filepath.Join(dir, "pid"))
	if status, err := readExitStatus(dir); err == nil {
		state.Exit = status
	} else {
		supervisor, _ := readPidFile(filepath.Join(dir, "supervisor.pid"))
		state.Running = isAlive(supervisor)
		state.Lost = !state.Running
	}
	if info, err := os.Stat(filepath.Join(dir, "stdout")); err == nil {
		state.StdoutBytes = info.Size()
	}
	if info, err := os.Stat(filepath.Join(dir, "stderr")); err == nil {
		state.StderrBytes = info.Size()
	}
	return state
}

// runStatus prints one process's state, or every process's (a JSON array), for re-attaching and debugging.
func runStatus(args []string) error {
	flags := flag.NewFlagSet("status", flag.ContinueOnError)
	id := flags.String("id", "", "one process; every process when absent")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	encoder := json.NewEncoder(os.Stdout)
	if *id != "" {
		dir, err := processDir(*id)
		if err != nil {
			return err
		}
		if _, err := os.Stat(dir); err != nil {
			return exitError{3, fmt.Sprintf("no process %s", *id)}
		}
		return encoder.Encode(stateOf(*id, dir))
	}
	entries, err := os.ReadDir(procsDir())
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	states := []processState{}
	for _, entry := range entries {
		if entry.IsDir() && processIDPattern.MatchString(entry.Name()) {
			states = append(states, stateOf(entry.Name(), filepath.Join(procsDir(), entry.Name())))
		}
	}
	sort.Slice(states, func(i, j int) bool { return states[i].ID < states[j].ID })
	return encoder.Encode(states)
}

var signalsByName = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP,
	"QUIT": syscall.SIGQUIT, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
}

// runKill signals a process's group and prints what it found: signalled, already-exited or not-started.
func runKill(args []string) error {
	flags := flag.NewFlagSet("kill", flag.ContinueOnError)
	id := flags.String("id", "", "process id")
	name := flags.String("signal", "TERM", "TERM, KILL, INT, HUP, QUIT, USR1 or USR2")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	sig, ok := signalsByName[*name]
	if !ok {
		return usageError{fmt.Sprintf("unknown signal %q", *name)}
	}
	dir, err := processDir(*id)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return exitError{3, fmt.Sprintf("no process %s", *id)}
	}
	if _, err := readExitStatus(dir); err == nil {
		fmt.Println("already-exited")
		return nil
	}
	pid, err := readPidFile(filepath.Join(dir, "pid"))
	if err != nil {
		fmt.Println("not-started")
		return nil
	}
	if err := syscall.Kill(-pid, sig); err != nil {
		if err := syscall.Kill(pid, sig); err != nil {
			fmt.Println("already-exited")
			return nil
		}
	}
	fmt.Println("signalled")
	return nil
}

// runResize sets the window size of a process's terminal (a no-op for a process without one).
func runResize(args []string) error {
	flags := flag.NewFlagSet("resize", flag.ContinueOnError)
	id := flags.String("id", "", "process id")
	rows := flags.Uint("rows", 24, "rows")
	columns := flags.Uint("columns", 80, "columns")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	dir, err := processDir(*id)
	if err != nil {
		return err
	}
	path, err := os.ReadFile(filepath.Join(dir, "tty"))
	if err != nil {
		return nil
	}
	terminal, err := os.OpenFile(string(path), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		if _, statusErr := readExitStatus(dir); statusErr == nil || os.IsNotExist(err) {
			return nil // the process ended and its terminal with it
		}
		return err
	}
	defer terminal.Close()
	return setWindowSize(terminal, windowSize{Rows: uint16(*rows), Columns: uint16(*columns)})
}

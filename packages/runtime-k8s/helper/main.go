// jetbridge-helper runs inside every JetBridge step pod. An init container copies it into a shared emptyDir
// (`copy`), the main container idles on it (`idle`), and everything JetBridge runs in the pod goes through it,
// so the task image needs no shell, tar or sleep (the approach of Tekton's entrypoint, Argo's argoexec and
// GitLab's runner helper). Standard library only; built with CGO_ENABLED=0 into one static binary.
package main

import (
	"errors"
	"fmt"
	"os"
)

const version = "1"

const usage = `usage: jetbridge-helper <subcommand> [flags]

  idle                      main container command: sleep, reap zombies, exit on SIGTERM
  copy --to P [--input S=D]…  init container: install this binary at P, then copy inputs
  copy-inputs --input S=D…  copy artifact directories into the workspace, in parallel
  fetch-inputs [--to P] --input H=D… --source H=NODE=URL… --token H=T… [--writable D]…
                            node-local init: copy inputs held on this node, fetch the others from
                            peer artifact daemons (verified, retried, mirrors next)
  spawn --id ID             start a process detached (spec and stdin as frames on stdin), then follow it
  tail --id ID [--stdout-offset N --stderr-offset N | --from-end]
                            stream a process's output from byte offsets until its exit status
  status [--id ID]          JSON state of one or every process
  kill --id ID --signal S   signal a process's process group
  resize --id ID --rows R --columns C
                            resize a process's terminal
  tar-out --dir D [--path P] [--report]  write a tar of D/P to stdout (--report: its byte count on stderr)
  tar-in --dir D [--path P] [--report]   extract a tar from stdin into D/P, refusing anything that escapes it (--report: bytes read, on stdout)
  version
`

// usageError makes main exit 2, as flag parsing errors do.
type usageError struct{ message string }

func (e usageError) Error() string { return e.message }

// exitError carries a specific exit status (tar-out's "not found" is 3).
type exitError struct {
	code    int
	message string
}

func (e exitError) Error() string { return e.message }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	subcommand, args := os.Args[1], os.Args[2:]
	var err error
	switch subcommand {
	case "idle":
		err = runIdle(args)
	case "copy":
		err = runCopy(args)
	case "copy-inputs":
		err = runCopyInputs(args)
	case "fetch-inputs":
		err = runFetchInputs(args)
	case "spawn":
		err = runSpawn(args)
	case "supervise":
		err = runSupervise(args)
	case "tail":
		err = runTail(args)
	case "status":
		err = runStatus(args)
	case "kill":
		err = runKill(args)
	case "resize":
		err = runResize(args)
	case "tar-out":
		err = runTarOut(args)
	case "tar-in":
		err = runTarIn(args)
	case "version":
		fmt.Println(version)
	default:
		err = usageError{fmt.Sprintf("unknown subcommand %q\n%s", subcommand, usage)}
	}
	if err == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "jetbridge-helper %s: %v\n", subcommand, err)
	var usageErr usageError
	var exitErr exitError
	switch {
	case errors.As(err, &usageErr):
		os.Exit(2)
	case errors.As(err, &exitErr):
		os.Exit(exitErr.code)
	default:
		os.Exit(1)
	}
}

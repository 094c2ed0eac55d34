package main

import (
	"os"
	"os/signal"
	"syscall"
)

// runIdle is the main container's command: the pod outlives every exec'd process, so output can be collected
// and `fly hijack` can get in after the step. As PID 1 it reaps the orphans exec'd processes leave behind.
func runIdle(args []string) error {
	if len(args) > 0 {
		return usageError{"idle takes no arguments"}
	}
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD, syscall.SIGHUP)
	reapZombies()
	for sig := range signals {
		switch sig {
		case syscall.SIGCHLD:
			reapZombies()
		case syscall.SIGTERM, syscall.SIGINT:
			// The container runtime kills whatever still runs in the container once PID 1 is gone.
			os.Exit(0)
		}
	}
	return nil
}

func reapZombies() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}

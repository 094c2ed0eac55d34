package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// openPTY allocates a pseudo-terminal pair the Linux way (/dev/ptmx, unlock, ask for the number), so a
// hijacked shell gets a real terminal whatever the exec transport offers.
func openPTY() (*os.File, string, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, "", err
	}
	var number uint32
	err = withFd(master, func(fd uintptr) error {
		var unlock int32
		if err := ioctl(fd, syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); err != nil {
			return fmt.Errorf("unlock pty: %w", err)
		}
		if err := ioctl(fd, syscall.TIOCGPTN, uintptr(unsafe.Pointer(&number))); err != nil {
			return fmt.Errorf("pty number: %w", err)
		}
		return nil
	})
	if err != nil {
		master.Close()
		return nil, "", err
	}
	return master, fmt.Sprintf("/dev/pts/%d", number), nil
}

func setWindowSize(terminal *os.File, size windowSize) error {
	window := [4]uint16{size.Rows, size.Columns, 0, 0}
	return withFd(terminal, func(fd uintptr) error {
		return ioctl(fd, syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&window)))
	})
}

// withFd runs f on the raw descriptor without File.Fd(), which would switch the file to blocking mode.
func withFd(file *os.File, f func(fd uintptr) error) error {
	raw, err := file.SyscallConn()
	if err != nil {
		return err
	}
	var inner error
	if err := raw.Control(func(fd uintptr) { inner = f(fd) }); err != nil {
		return err
	}
	return inner
}

func ioctl(fd, request, argument uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, request, argument); errno != 0 {
		return errno
	}
	return nil
}

package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Frames are how the helper and JetBridge talk over an exec's stdin and stdout: one type byte, a big-endian
// uint32 length, the payload. Output frames say which stream bytes belong to, so JetBridge counts each
// stream's offset exactly and can resume after a dropped connection without losing or repeating a byte.
const (
	// helper → JetBridge
	frameStarted   = 'p' // JSON {pid, stdout, stderr}: the offsets output continues from
	frameStdout    = 'o'
	frameStderr    = 'e'
	frameExit      = 'x' // JSON {status, signal?}: read from the process's status file
	frameError     = 'E' // JSON {code, message}
	frameHeartbeat = 'h' // keeps idle streams from being cut by proxies and the kubelet's idle timeout
	// JetBridge → helper (spawn's stdin)
	frameSpec     = 'S' // JSON processSpec
	frameStdin    = 'i'
	frameStdinEnd = 'z'
)

const maxFramePayload = 16 << 20

type frameWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func newFrameWriter(w io.Writer) *frameWriter {
	return &frameWriter{w: bufio.NewWriterSize(w, 256<<10)}
}

func (f *frameWriter) frame(kind byte, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var header [5]byte
	header[0] = kind
	binary.BigEndian.PutUint32(header[1:], uint32(len(payload)))
	if _, err := f.w.Write(header[:]); err != nil {
		return err
	}
	_, err := f.w.Write(payload)
	return err
}

func (f *frameWriter) json(kind byte, value any) error {
	payload, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return f.frame(kind, payload)
}

func (f *frameWriter) flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w.Flush()
}

// fail reports an error frame with a machine-readable code and flushes; the exec itself then exits 0, so
// JetBridge reads the code instead of guessing from an exit status.
func (f *frameWriter) fail(code, message string) error {
	if err := f.json(frameError, map[string]string{"code": code, "message": message}); err != nil {
		return err
	}
	return f.flush()
}

type frameReader struct{ r *bufio.Reader }

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 256<<10)}
}

func (f *frameReader) next() (byte, []byte, error) {
	var header [5]byte
	if _, err := io.ReadFull(f.r, header[:]); err != nil {
		return 0, nil, err
	}
	length := binary.BigEndian.Uint32(header[1:])
	if length > maxFramePayload {
		return 0, nil, fmt.Errorf("frame of %d bytes is too large", length)
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(f.r, payload); err != nil {
		return 0, nil, err
	}
	return header[0], payload, nil
}

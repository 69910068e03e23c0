//go:build !unix

package transcribe

import "os/exec"

// inOwnProcessGroup leaves cmd as it is: without process groups,
// cancellation kills the program itself (exec.CommandContext's default).
func inOwnProcessGroup(*exec.Cmd) {}

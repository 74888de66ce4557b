package pushgate

// Run runs the command line with args, for the tests of package
// pushgate_test.
var Run = run

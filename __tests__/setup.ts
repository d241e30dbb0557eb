// The cdktf matchers (toHaveResourceWithProperties, ...) and their types for every test file.
// From cdktf's jest adapter alone: the package root would load all of cdktf (hundreds of modules)
// into every test file, even those that never synthesize.
import { setupJest } from 'cdktf/lib/testing/adapters/jest';

setupJest();

// The vendored uPlot, served as /ui/vendor/uplot.js from the `uplot` package's dist/uPlot.esm.js
// (broker/review/ui-assets.ts, VENDOR_FILES): its types, from the package, for the compiler only.
import uPlot from "uplot";

export default uPlot;

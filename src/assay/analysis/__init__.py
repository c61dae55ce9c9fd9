"""Analysis: means with confidence intervals, win rates, comparisons."""

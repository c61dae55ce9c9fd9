"""Reading results produced by other evaluation frameworks."""

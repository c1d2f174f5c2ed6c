// The sandbox page (being written).

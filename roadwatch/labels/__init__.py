"""Labels: what images truly show, from people and labelled datasets, on `labels.v1` and in the `labels`
table; the newest label of an image supersedes the earlier ones."""

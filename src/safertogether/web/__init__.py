"""The public neighbourhood page and the HTML quality report (front-end packages come from npm)."""

"""Platform plugins that appear as pipeline steps: exposure (nginx/haproxy); later debug and Ceph volumes."""

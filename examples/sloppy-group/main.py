import sys
import numpy as np
import scipy.signal
# x = np.zeros(10)
# print(x)
def run(p):
    a = np.random.randn(16000)
    b, c = scipy.signal.butter(4, 0.1)
    y = scipy.signal.lfilter(b, c, a)
    print(y.std())
if __name__ == "__main__":
    run(sys.argv[1:])
